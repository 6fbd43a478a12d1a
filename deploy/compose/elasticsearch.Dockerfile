# syntax=docker/dockerfile:1
# Elasticsearch with Luister's analysis plugin (luister_dutch / luister_english analyzers, see
# deploy/local/es-plugin), built against the exact Elasticsearch version it runs in.
# Build context: the repository root (docker compose does that, see compose.yaml).
ARG ES_VERSION=8.19.21

FROM docker.elastic.co/elasticsearch/elasticsearch:${ES_VERSION} AS plugin
USER root
COPY --from=eclipse-temurin:17-jdk /opt/java/openjdk /opt/jdk
COPY deploy/local/es-plugin /src/es-plugin
RUN JAVA_HOME=/opt/jdk ES_HOME=/usr/share/elasticsearch OUT_DIR=/tmp/plugin bash /src/es-plugin/build.sh

FROM docker.elastic.co/elasticsearch/elasticsearch:${ES_VERSION}
COPY --from=plugin --chown=1000:0 /usr/share/elasticsearch/plugins/luister-analysis \
     /usr/share/elasticsearch/plugins/luister-analysis
