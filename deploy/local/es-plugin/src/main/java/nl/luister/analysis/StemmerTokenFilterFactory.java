package nl.luister.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.tartarus.snowball.ext.DutchStemmer;
import org.tartarus.snowball.ext.KpStemmer;

import java.util.Locale;

/**
 * {@code luister_stemmer}: a token filter for custom analyzers, replacing the built-in
 * {@code stemmer} / {@code snowball} filters (also part of the missing analysis-common module).
 *
 * <pre>"filter": {"nl_stem": {"type": "luister_stemmer", "language": "dutch"}}</pre>
 *
 * The stemmers match the ones in the luister_* analyzers: Snowball Dutch for Dutch and Porter for
 * English (what the built-in {@code stemmer} filter uses for "english"). {@code dutch_kp} selects the
 * Kraaij-Pohlmann stemmer (as the built-in filter does): unlike Snowball Dutch it strips diminutives
 * (pakketjes -> pak), at the price of more over-stemming. It expects lowercased input.
 */
@NamedComponent("luister_stemmer")
public class StemmerTokenFilterFactory implements TokenFilterFactory {

    /** normalised to dutch, dutch_kp or english */
    private final String language;

    @Inject
    public StemmerTokenFilterFactory(StemmerSettings settings) {
        switch (settings.language().toLowerCase(Locale.ROOT)) {
            case "dutch", "nl" -> language = "dutch";
            case "dutch_kp" -> language = "dutch_kp";
            case "english", "en" -> language = "english";
            // fail at index creation rather than silently not stemming
            default -> throw new IllegalArgumentException(
                "luister_stemmer: unsupported language [" + settings.language() + "], expected dutch, dutch_kp or english"
            );
        }
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        // a new stemmer per stream: Snowball stemmers keep state and are not thread safe
        return switch (language) {
            case "dutch" -> new SnowballFilter(tokenStream, new DutchStemmer());
            case "dutch_kp" -> new SnowballFilter(tokenStream, new KpStemmer());
            default -> new PorterStemFilter(tokenStream);
        };
    }
}
