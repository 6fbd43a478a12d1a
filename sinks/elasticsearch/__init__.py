"""Elasticsearch sink: index template, idempotent bulk writer with retries."""
from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer

from sinks.elasticsearch.bulk import BulkWriter, Rejected, WriteResult
from sinks.elasticsearch.index import ensure_index

__all__ = ["BulkWriter", "Rejected", "WriteResult", "ensure_index", "sink_client"]


def sink_client(url: str, request_timeout: float) -> AsyncElasticsearch:
    """The client the worker's sinks bulk-write with: orjson encodes the bulk bodies (the stdlib
    encoder was ~7 % of a worker's Python time at saturation, docs/benchmarks.md)."""
    return AsyncElasticsearch(url, request_timeout=request_timeout, serializer=OrjsonSerializer())
