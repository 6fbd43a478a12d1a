"""Faust wiring: thin loops around the pure stage functions.

Each agent takes a batch (`take_events(n, within=t)`), does its work, and only then
lets Faust ack the batch; Faust flushes the producer before it commits offsets, so
a crash replays from the last commit (at-least-once) and idempotent ids make the
replay harmless. No record is skipped silently: whatever a stage cannot handle goes
to the dead-letter topic with the reason.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from classifiers.e5.onnx_session import available_cores
from classifiers.registry import load_classifier
from enrichers.stage import enrich_batch
from luister import metrics
from luister.lru import LRU
from pipeline import topics
from pipeline.app import app, settings
from pipeline.classify import classified, texts_and_languages
from pipeline.inflight import InOrderBatches
from pipeline.normalize import normalize as normalize_record
from pipeline.profile import TRIAGE, customer_id_of, enriched, follower
from schemas import ClassifiedMention, DeadLetter, DeadLetterReason, RawMention
from sinks.elasticsearch import BulkWriter, ensure_index, sink_client
from sinks.elasticsearch.lifecycle import monthly_router
from sinks.elasticsearch.mapping import MAPPING_VERSION

log = logging.getLogger(__name__)
# `log_mentions`: one line per mention per stage, to follow one mention id through the pipeline
trace = logging.getLogger("luister.mentions")
trace.setLevel(logging.INFO if settings.log_mentions else logging.WARNING)

# batches in flight run side by side, each on its share of the cores (one ONNX thread per call on 2 cores
# with 2 in flight: measured faster than one call on 2 threads, docs/benchmarks.md)
classifier = load_classifier(settings.classifier, threads=settings.classifier_threads
                             or max(1, available_cores() // settings.classify_in_flight))


class RecentTexts:
    """The classifier is pure, so a text seen lately (a retweet, a copy-paste campaign) reuses
    its answer: each batch sends only its new, distinct texts to the model. Bounded LRU, shared by
    the batches in flight (the model runs outside its lock)."""

    def __init__(self, size: int):
        self._seen: LRU[tuple[str, str | None], object] = LRU(size)

    def classify_batch(self, texts: Sequence[str], languages: Sequence[str | None]) -> list:
        keys = list(zip(texts, languages))
        known = self._seen.get_many(keys)
        new = list(dict.fromkeys(k for k in keys if k not in known))
        metrics.CLASSIFY_CACHE.labels(outcome="hit").inc(len(keys) - len(new))
        metrics.CLASSIFY_CACHE.labels(outcome="miss").inc(len(new))
        if new:
            fresh = list(zip(new, classifier.classify_batch([t for t, _ in new], [lang for _, lang in new])))
            known.update(fresh)
            self._seen.put_many(fresh)
        return [known[key] for key in keys]


classify_batch = RecentTexts(settings.classify_cache_size).classify_batch if settings.classify_cache_size \
    else classifier.classify_batch


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _dead_letter(letter: DeadLetter) -> None:
    metrics.STAGE_EVENTS.labels(stage=letter.stage, outcome="dlq").inc()
    metrics.DEAD_LETTERS.labels(stage=letter.stage, reason=letter.reason.value).inc()
    log.warning("dead-lettered", extra={"stage": letter.stage, "reason": letter.reason.value,
                                        "detail": letter.detail[:200], "mention_id": letter.mention_id,
                                        "offset": letter.offset})
    await topics.dlq.send(key=letter.id.encode(), value=letter.model_dump_json().encode())


async def _dead_letter_event(event, stage: str, reason: DeadLetterReason, detail: str, mention_id: str | None) -> None:
    msg = event.message
    await _dead_letter(DeadLetter.build(
        stage=stage, reason=reason, detail=detail, original=msg.value or b"", received_at=_now(),
        topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key, mention_id=mention_id,
    ))


@app.agent(topics.raw)
async def normalize(stream):
    """mentions.raw -> mentions.normalized (keyed by customer_id) | mentions.dlq."""
    await follower.ready.wait()  # the linked identities known at start-up, before any mention is keyed
    async for events in stream.take_events(settings.normalize_batch_size, within=settings.batch_within_seconds):
        started = time.perf_counter()
        for event in events:
            msg = event.message
            result = normalize_record(msg.value, received_at=_now(), topic=msg.topic, partition=msg.partition,
                                      offset=msg.offset, key=msg.key)
            if isinstance(result, DeadLetter):
                await _dead_letter(result)
                continue
            metrics.STAGE_EVENTS.labels(stage="normalize", outcome="ok").inc()
            trace.info("normalized", extra={"stage": "normalize", "mention_id": result.id, "offset": msg.offset,
                                            "partition": msg.partition})
            await topics.normalized.send(key=customer_id_of(result).encode(), value=msg.value)
        metrics.STAGE_SECONDS.labels(stage="normalize").observe(time.perf_counter() - started)


# The model's own threads: up to `classify_in_flight` batches run at once, each on
# `classifier_threads` ONNX threads (the enrichers use the loop's default executor).
model_executor = ThreadPoolExecutor(max_workers=settings.classify_in_flight, thread_name_prefix="model")


@app.agent(topics.normalized)
async def classify(stream):
    """mentions.normalized -> classified + enriched (pipeline/profile.py), model and enrichers off the loop.

    Batches overlap (pipeline/inflight.py): while one is enriched and sent, the next is in the model.
    Events are acked by hand, in order, once their outputs are sent."""
    loop = asyncio.get_running_loop()

    async def finish(batch: tuple[list, list, list[RawMention], asyncio.Future]) -> None:
        events, kept, mentions, model_call = batch
        results = await model_call
        await _send_classified(loop, kept, mentions, results)
        for event in events:
            await stream.ack(event)

    batches = InOrderBatches(settings.classify_in_flight, finish)
    try:
        async for events in stream.noack_take(settings.classify_batch_size, within=settings.batch_within_seconds):
            mentions: list[RawMention] = []
            kept = []
            for event in events:
                try:
                    mentions.append(RawMention.model_validate_json(event.message.value))
                    kept.append(event)
                except ValueError as exc:  # only if someone else writes to this topic
                    await _dead_letter_event(event, "classify", DeadLetterReason.schema_violation, str(exc), None)
            texts, languages = texts_and_languages(mentions)
            await batches.submit(lambda: (events, kept, mentions, _start_model(loop, texts, languages)))
    finally:
        await batches.close()


def _start_model(loop: asyncio.AbstractEventLoop, texts: list[str], languages: list[str | None]) -> asyncio.Future:
    if not texts:
        done = loop.create_future()
        done.set_result([])
        return done
    metrics.MODEL_BATCH_SIZE.labels(classifier=settings.classifier).observe(len(texts))
    return loop.run_in_executor(model_executor, _timed_classify, texts, languages)


def _timed_classify(texts: list[str], languages: list[str | None]) -> list:
    with metrics.MODEL_SECONDS.labels(classifier=settings.classifier).time():
        return classify_batch(texts, languages)


async def _send_classified(loop: asyncio.AbstractEventLoop, kept: Sequence, mentions: Sequence[RawMention],
                           results: Sequence) -> None:
    """Classified + enriched mentions to the profile stage; what cannot be built, to the DLQ."""
    if not mentions:
        return
    started = time.perf_counter()
    processed_at = _now()
    done = []
    for event, mention, result in zip(kept, mentions, results, strict=True):
        try:
            out = classified(mention, result, model_version=classifier.model_version, processed_at=processed_at)
            done.append((event, out.model_copy(update={"customer_id": (event.message.key or b"").decode()
                                                       or out.customer_id})))
        except ValueError as exc:
            await _dead_letter_event(event, "classify", DeadLetterReason.processing_error, str(exc), mention.id)
    outs = await loop.run_in_executor(None, enrich_batch, [o for _, o in done], TRIAGE.severity_config())
    for (event, _), out in zip(done, outs, strict=True):
        metrics.STAGE_EVENTS.labels(stage="classify", outcome="ok").inc()
        trace.info("classified", extra={"stage": "classify", "mention_id": out.id, "type": str(out.type),
                                        "sentiment": str(out.sentiment)})
        await enriched.send(key=event.message.key, value=out.model_dump_json(exclude_none=True).encode())
    metrics.STAGE_SECONDS.labels(stage="classify").observe(time.perf_counter() - started)


async def _connect_elasticsearch() -> BulkWriter:
    """Wait (with backoff) until Elasticsearch answers and the index exists."""
    client = sink_client(settings.es_url, settings.es_request_timeout)
    delay = settings.es_retry_initial_seconds
    while True:
        try:
            await ensure_index(client, settings.es_index_prefix, settings.es_refresh_interval)
            metrics.set_dependency("elasticsearch", True)
            # each mention goes to the index of its own month: a replay overwrites the same document
            router = monthly_router(settings.es_index_prefix, MAPPING_VERSION)
            return BulkWriter(client, router, chunk_size=settings.es_bulk_size,
                              max_chunk_bytes=settings.es_bulk_max_bytes,
                              initial_backoff=settings.es_retry_initial_seconds,
                              max_backoff=settings.es_retry_max_seconds)
        except Exception as exc:  # noqa: BLE001 - any failure here means "not ready yet"
            metrics.set_dependency("elasticsearch", False)
            log.warning("elasticsearch not ready; retrying", extra={"url": settings.es_url, "error": repr(exc)[:300],
                                                                    "retry_in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.es_retry_max_seconds)


def _documents(events: Sequence) -> tuple[list[tuple[str, dict]], dict[str, object], list[tuple[object, str]]]:
    docs: list[tuple[str, dict]] = []
    by_id: dict[str, object] = {}
    bad: list[tuple[object, str]] = []
    for event in events:
        try:
            mention = ClassifiedMention.model_validate_json(event.message.value)
        except ValueError as exc:
            bad.append((event, str(exc)))
            continue
        docs.append((mention.id, mention.model_dump(mode="json", exclude_none=True)))
        by_id[mention.id] = event
    return docs, by_id, bad


@app.agent(topics.classified)
async def index(stream):
    """mentions.classified -> Elasticsearch, in bulk; offsets advance only after the write."""
    writer = await _connect_elasticsearch()
    async for events in stream.take_events(settings.es_bulk_size, within=settings.es_sink_within_seconds):
        started = time.perf_counter()
        docs, by_id, bad = _documents(events)
        for event, detail in bad:
            await _dead_letter_event(event, "index", DeadLetterReason.schema_violation, detail, None)
        result = await writer.write(docs)
        metrics.set_dependency("elasticsearch", True)
        if settings.log_mentions:
            rejected_ids = {r.doc_id for r in result.rejected}
            for doc_id, _ in docs:
                if doc_id not in rejected_ids:
                    trace.info("indexed", extra={"stage": "index", "mention_id": doc_id})
        for rejected in result.rejected:
            await _dead_letter_event(by_id[rejected.doc_id], "index", DeadLetterReason.rejected,
                                     f"elasticsearch status {rejected.status}: {rejected.reason}", rejected.doc_id)
        acked = datetime.now(timezone.utc)
        for _, doc in docs:
            if doc.get("ingested_at"):
                metrics.PIPELINE_LATENCY.observe(
                    max(0.0, (acked - datetime.fromisoformat(doc["ingested_at"])).total_seconds()))
        metrics.STAGE_EVENTS.labels(stage="index", outcome="ok").inc(result.indexed)
        metrics.STAGE_SECONDS.labels(stage="index").observe(time.perf_counter() - started)
