"""index: mentions.classified -> Elasticsearch (the mention's monthly index), in bulk; offsets advance
only after the write. A replay overwrites the same document (the id is the mention id)."""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timezone

from core import metrics
from core.redact import redact_url
from pipeline import topics
from pipeline.app import app, settings
from pipeline.dead_letters import dead_letter_event
from pipeline.es_wait import until_elasticsearch
from pipeline.faults import describe, maybe_fail
from pipeline.trace import trace
from schemas import ClassifiedMention, DeadLetterReason
from sinks.elasticsearch import BulkWriter, ensure_index, sink_client
from sinks.elasticsearch.deletions import deleted_ids, ensure_deletions_index, remove_mentions
from sinks.elasticsearch.lifecycle import monthly_router
from sinks.elasticsearch.mapping import MAPPING_VERSION

log = logging.getLogger(__name__)


def _elasticsearch_down(_exc: BaseException) -> None:
    metrics.set_dependency("elasticsearch", False)  # /readyz says so while a stage waits for it


async def connect_elasticsearch() -> BulkWriter:
    """Wait (with backoff) until Elasticsearch answers and the indices exist."""
    client = sink_client(settings.es_url, settings.es_request_timeout)

    async def attempt() -> BulkWriter:
        await ensure_index(client, settings.es_index_prefix, settings.es_refresh_interval)
        await ensure_deletions_index(client, settings.es_deletions_index)
        metrics.set_dependency("elasticsearch", True)
        # each mention goes to the index of its own month: a replay overwrites the same document
        router = monthly_router(settings.es_index_prefix, MAPPING_VERSION)
        return BulkWriter(client, router, chunk_size=settings.es_bulk_size, max_chunk_bytes=settings.es_bulk_max_bytes,
                          initial_backoff=settings.es_retry_initial_seconds, max_backoff=settings.es_retry_max_seconds)

    return await until_elasticsearch(attempt, what="elasticsearch", log=log,
                                     on_failure=_elasticsearch_down,
                                     details=lambda: {"url": redact_url(settings.es_url)})


def _documents(events: Sequence) -> tuple[list[tuple[str, dict]], dict[str, object], list[tuple]]:
    """(documents, event per mention id, rejects as (event, reason, detail, mention id))."""
    docs: list[tuple[str, dict]] = []
    by_id: dict[str, object] = {}
    bad: list[tuple] = []
    for event in events:
        try:
            mention = ClassifiedMention.model_validate_json(event.message.value)
        except ValueError as exc:
            bad.append((event, DeadLetterReason.schema_violation, str(exc), None))
            continue
        try:
            maybe_fail("index", mention.id)
            docs.append((mention.id, mention.model_dump(mode="json", exclude_none=True)))
        except Exception as exc:  # noqa: BLE001 - this one record to the DLQ, the rest of the batch on
            bad.append((event, DeadLetterReason.processing_error, describe(exc), mention.id))
            continue
        by_id[mention.id] = event
    return docs, by_id, bad


@app.agent(topics.classified_mentions)
async def index(stream):
    """mentions.classified -> Elasticsearch, in bulk; offsets advance only after the write."""
    writer = await connect_elasticsearch()
    async for events in stream.take_events(settings.es_bulk_size, within=settings.es_sink_within_seconds):
        started = time.perf_counter()
        docs, by_id, bad = _documents(events)
        for event, reason, detail, mention_id in bad:
            await dead_letter_event(event, "index", reason, detail, mention_id)
        # a mention its author deleted before it got here is not indexed (the record is read in real time;
        # with retries, like the write itself: an outage means waiting, never skipping the batch)
        gone = await until_elasticsearch(lambda: deleted_ids(writer.client, settings.es_deletions_index, by_id),
                                         what="reading deletions", log=log, on_failure=_elasticsearch_down)
        if gone:
            docs = [(doc_id, doc) for doc_id, doc in docs if doc_id not in gone]
            metrics.STAGE_EVENTS.labels(stage="index", outcome="deleted_before_indexed").inc(len(gone))
        result = await writer.write(docs)
        # and one whose deletion was recorded while this batch was being written goes again at once
        written = [doc_id for doc_id, _ in docs]
        late = await until_elasticsearch(lambda: deleted_ids(writer.client, settings.es_deletions_index, written),
                                         what="reading deletions", log=log, on_failure=_elasticsearch_down)
        if late:
            await until_elasticsearch(lambda: remove_mentions(writer.client, settings.es_index_prefix, sorted(late)),
                                      what="removing deleted mentions", log=log, on_failure=_elasticsearch_down)
        metrics.set_dependency("elasticsearch", True)
        if settings.log_mentions:
            rejected_ids = {r.doc_id for r in result.rejected}
            for doc_id, _ in docs:
                if doc_id not in rejected_ids:
                    trace.info("indexed", extra={"stage": "index", "mention_id": doc_id})
        for rejected in result.rejected:
            await dead_letter_event(by_id[rejected.doc_id], "index", DeadLetterReason.rejected,
                                    f"elasticsearch status {rejected.status}: {rejected.reason}", rejected.doc_id)
        acked = datetime.now(timezone.utc)
        for _, doc in docs:
            if doc.get("ingested_at"):
                metrics.PIPELINE_LATENCY.observe(
                    max(0.0, (acked - datetime.fromisoformat(doc["ingested_at"])).total_seconds()))
        metrics.STAGE_EVENTS.labels(stage="index", outcome="ok").inc(result.indexed)
        metrics.STAGE_SECONDS.labels(stage="index").observe(time.perf_counter() - started)
