package nl.luister.analysis;

import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.StringSetting;

/**
 * Settings of the {@code luister_stemmer} token filter. Elasticsearch generates the implementation of
 * this interface from the filter's definition in the index settings and injects it into the
 * {@code @Inject} constructor of {@link StemmerTokenFilterFactory}.
 */
@AnalysisSettings
public interface StemmerSettings {

    /** {@code dutch}, {@code dutch_kp} (Kraaij-Pohlmann) or {@code english}. */
    @StringSetting(path = "language", defaultValue = "english")
    String language();
}
