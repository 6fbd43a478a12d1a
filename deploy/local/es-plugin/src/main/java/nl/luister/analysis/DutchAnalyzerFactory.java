package nl.luister.analysis;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.nl.DutchAnalyzer;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.AnalyzerFactory;

/**
 * {@code luister_dutch}: stand-in for Elasticsearch's built-in {@code dutch} analyzer, which lives in
 * the analysis-common module that the integ-test-zip distribution does not ship.
 *
 * Lucene's DutchAnalyzer is what the built-in one wraps: standard tokenizer, lowercase, Dutch stop
 * words, the small stemmer-override dictionary (fiets, kind/kinder, ...) and the Snowball Dutch stemmer.
 * The class comes from lucene-analysis-common, which ES already has on its own classpath, so the
 * plugin bundles no Lucene jar of its own.
 */
@NamedComponent("luister_dutch")
public class DutchAnalyzerFactory implements AnalyzerFactory {

    @Override
    public Analyzer create() {
        return new DutchAnalyzer();
    }
}
