package nl.luister.analysis;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.AnalyzerFactory;

/**
 * {@code luister_english}: stand-in for Elasticsearch's built-in {@code english} analyzer (missing
 * from the integ-test-zip distribution, see {@link DutchAnalyzerFactory}).
 *
 * Lucene's EnglishAnalyzer = standard tokenizer, possessive ('s) removal, lowercase, English stop
 * words and the Porter stemmer, i.e. the same chain as the built-in analyzer.
 */
@NamedComponent("luister_english")
public class EnglishAnalyzerFactory implements AnalyzerFactory {

    @Override
    public Analyzer create() {
        return new EnglishAnalyzer();
    }
}
