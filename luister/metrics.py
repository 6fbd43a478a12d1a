"""Prometheus metrics shared by every Luister process (exposed on /metrics)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

STAGE_EVENTS = Counter(
    "luister_stage_events_total", "Records handled per pipeline stage and outcome", ["stage", "outcome"]
)
STAGE_SECONDS = Histogram(
    "luister_stage_batch_seconds", "Time to process one batch per stage", ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PIPELINE_LATENCY = Histogram(
    "luister_publish_to_indexed_seconds", "From connector publish to Elasticsearch bulk acknowledgement",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
ES_DOCS = Counter("luister_es_documents_total", "Documents written to Elasticsearch by outcome", ["outcome"])
ES_BULK_RETRIES = Counter("luister_es_bulk_retries_total", "Bulk writes retried after a transient failure")
