#!/usr/bin/env bash
# Build and install the `luister-analysis` stable Elasticsearch plugin.
#
#   JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 ES_HOME=.cache/elasticsearch-8.19.21 \
#   OUT_DIR=.cache/es-plugin bash deploy/local/es-plugin/build.sh
#
# Why: the integ-test-zip distribution we run lacks the analysis-common module, so the built-in
# `dutch`/`english` analyzers and `stemmer`/`snowball` filters do not exist. This plugin registers
# luister_dutch, luister_english (analyzers) and luister_stemmer (token filter) on top of the
# Lucene classes already in $ES_HOME/lib. No gradle: javac + a hand-written descriptor and
# named_components.json (what the elasticsearch.stable-esplugin gradle plugin would generate).
#
# Called by deploy/local/services.py (_install_es_plugins) during `fetch`. Idempotent: an
# installed copy is removed first.
set -euo pipefail

PLUGIN_NAME=luister-analysis
PLUGIN_VERSION=1.0.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "build.sh ($PLUGIN_NAME): $*" >&2; exit 1; }
trap 'echo "build.sh ($PLUGIN_NAME): failed at line $LINENO: $BASH_COMMAND" >&2' ERR

[[ -n "${JAVA_HOME:-}" ]] || die "JAVA_HOME is not set (needs a JDK 17+)"
[[ -n "${ES_HOME:-}" ]] || die "ES_HOME is not set (the unpacked Elasticsearch folder)"
[[ -n "${OUT_DIR:-}" ]] || die "OUT_DIR is not set (where the plugin zip is written)"
[[ -x "$JAVA_HOME/bin/javac" && -x "$JAVA_HOME/bin/jar" ]] || die "no javac/jar in $JAVA_HOME/bin (a JRE is not enough)"
[[ -d "$ES_HOME/lib" && -x "$ES_HOME/bin/elasticsearch-plugin" ]] || die "$ES_HOME does not look like an Elasticsearch home"
ES_HOME="$(cd "$ES_HOME" && pwd)"
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

# The descriptor must name the exact ES version, else the plugin tool refuses the plugin.
ES_VERSION=""
for jar in "$ES_HOME"/lib/elasticsearch-*.jar; do
    if [[ "$(basename "$jar")" =~ ^elasticsearch-([0-9]+\.[0-9]+\.[0-9]+)\.jar$ ]]; then
        ES_VERSION="${BASH_REMATCH[1]}"
    fi
done
[[ -n "$ES_VERSION" ]] || die "cannot find lib/elasticsearch-<version>.jar in $ES_HOME"
for api in elasticsearch-plugin-api elasticsearch-plugin-analysis-api; do
    [[ -f "$ES_HOME/lib/$api-$ES_VERSION.jar" ]] || die "$ES_HOME/lib/$api-$ES_VERSION.jar is missing (stable plugin API)"
done

BUILD="$OUT_DIR/build"
rm -rf "$BUILD"
mkdir -p "$BUILD/classes" "$BUILD/zip"

echo "compiling $PLUGIN_NAME against Elasticsearch $ES_VERSION"
mapfile -t SOURCES < <(find "$HERE/src/main/java" -name '*.java' | sort)
"$JAVA_HOME/bin/javac" --release 17 -encoding UTF-8 -nowarn \
    -cp "$ES_HOME/lib/*" -d "$BUILD/classes" "${SOURCES[@]}"
"$JAVA_HOME/bin/jar" --create --file "$BUILD/zip/$PLUGIN_NAME-$PLUGIN_VERSION.jar" -C "$BUILD/classes" .

cat > "$BUILD/zip/stable-plugin-descriptor.properties" <<EOF
description=Dutch and English analyzers for Luister (stand-in for the analysis-common module)
version=$PLUGIN_VERSION
name=$PLUGIN_NAME
java.version=17
elasticsearch.version=$ES_VERSION
EOF

# extensible interface -> {component name -> implementing class}; keep in sync with the
# @NamedComponent annotations in src/.
cat > "$BUILD/zip/named_components.json" <<'EOF'
{
  "org.elasticsearch.plugin.analysis.AnalyzerFactory": {
    "luister_dutch": "nl.luister.analysis.DutchAnalyzerFactory",
    "luister_english": "nl.luister.analysis.EnglishAnalyzerFactory"
  },
  "org.elasticsearch.plugin.analysis.TokenFilterFactory": {
    "luister_stemmer": "nl.luister.analysis.StemmerTokenFilterFactory"
  }
}
EOF

ZIP="$OUT_DIR/$PLUGIN_NAME-$PLUGIN_VERSION-es$ES_VERSION.zip"
rm -f "$ZIP"
# jar without a manifest == a plain zip; avoids depending on the `zip` command
"$JAVA_HOME/bin/jar" --create --no-manifest --file "$ZIP" -C "$BUILD/zip" .
echo "built $ZIP"

export ES_JAVA_HOME="$JAVA_HOME"
unset JAVA_HOME  # the ES launcher scripts warn about / prefer ES_JAVA_HOME
PLUGIN_TOOL="$ES_HOME/bin/elasticsearch-plugin"
if [[ -e "$ES_HOME/plugins/$PLUGIN_NAME" ]]; then
    echo "removing the installed $PLUGIN_NAME"
    "$PLUGIN_TOOL" remove --purge "$PLUGIN_NAME" || rm -rf "$ES_HOME/plugins/$PLUGIN_NAME"
fi
"$PLUGIN_TOOL" install --batch "file://$ZIP"
[[ -f "$ES_HOME/plugins/$PLUGIN_NAME/named_components.json" ]] || die "installation left no $ES_HOME/plugins/$PLUGIN_NAME"
echo "installed $PLUGIN_NAME $PLUGIN_VERSION into $ES_HOME/plugins"
