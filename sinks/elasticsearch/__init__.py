"""Elasticsearch sink: index template, idempotent bulk writer with retries."""
from sinks.elasticsearch.bulk import BulkWriter, Rejected, WriteResult
from sinks.elasticsearch.index import ensure_index

__all__ = ["BulkWriter", "Rejected", "WriteResult", "ensure_index"]
