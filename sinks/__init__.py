"""Sinks: where classified mentions and alerts leave the stream (Elasticsearch, alert hooks)."""
