"""Delivery runner: the alerts topic to every destination, each with its own consumer group.

For each destination one consumer reads the alerts topic in its own group `<prefix>-<destination>`
and commits a partition's offset only after the destination took the records before it: an alert
that could not be delivered yet stays on the topic, and a worker restart resumes from it. Each
destination runs in its own task, so a slow or failing one never holds up the others. An alert a
destination refuses for good (a 4xx other than 408/425/429, or a document Elasticsearch rejects) is
dead-lettered with the reason and then committed, so it cannot block the ones behind it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timezone

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from elasticsearch import AsyncElasticsearch

from core.settings import Settings
from schemas import Alert, DeadLetter, DeadLetterReason
from sinks.alerts.base import DELIVERIES, Backoff, Destination, deliver
from sinks.alerts.registry import backoff as backoff_from
from sinks.alerts.registry import destinations as destinations_from
from sinks.elasticsearch.alerts_index import alert_document, ensure_alerts_index
from sinks.elasticsearch.bulk import BulkWriter

log = logging.getLogger(__name__)

ELASTICSEARCH = "elasticsearch"


def group_id(settings: Settings, destination: str) -> str:
    return f"{settings.alerts.group_prefix or settings.app_id + '-alerts'}-{destination}"


class _DeadLetters:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()  # the destinations share one producer, started on first use

    async def send(self, record: ConsumerRecord, stage: str, reason: DeadLetterReason, detail: str) -> None:
        async with self._starting:
            if self.producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
                                            enable_idempotence=True)
                await producer.start()
                self.producer = producer
        letter = DeadLetter.build(stage=stage, reason=reason, detail=detail, original=record.value or b"",
                                  received_at=datetime.now(timezone.utc), topic=record.topic,
                                  partition=record.partition, offset=record.offset, key=record.key)
        await self.producer.send_and_wait(self.settings.topic_dlq, letter.model_dump_json().encode(),
                                          key=letter.id.encode())
        log.warning("alert dead-lettered", extra={"stage": stage, "reason": reason.value, "detail": detail[:200],
                                                  "offset": record.offset})

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()


Parsed = tuple[list[tuple[ConsumerRecord, Alert]], list[tuple[ConsumerRecord, str]]]


def _parse(records: Sequence[ConsumerRecord]) -> Parsed:
    good, bad = [], []
    for record in records:
        try:
            good.append((record, Alert.model_validate_json(record.value or b"")))
        except ValueError as exc:
            bad.append((record, str(exc)))
    return good, bad


class HttpSink:
    """One HTTP destination: records in order, each retried until delivered or refused for good."""

    def __init__(self, destination: Destination, backoff: Backoff, timeout: float, dead_letters: _DeadLetters):
        self.destination, self.backoff, self.timeout, self.dead_letters = destination, backoff, timeout, dead_letters
        self.name = destination.name
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, records: Sequence[ConsumerRecord]) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        good, bad = _parse(records)
        for record, detail in bad:
            await self.dead_letters.send(record, f"deliver-{self.name}", DeadLetterReason.schema_violation, detail)
        for record, alert in good:
            if not self.destination.wants(alert):
                DELIVERIES.labels(destination=self.name, outcome="filtered").inc()
                continue
            result = await deliver(self.session, self.destination, alert, self.backoff, timeout=self.timeout)
            if result.delivered:
                log.info("alert delivered", extra={"destination": self.name, "alert_id": alert.version_id,
                                                   "status": alert.status.value, "attempts": result.attempts})
            else:
                await self.dead_letters.send(record, f"deliver-{self.name}", DeadLetterReason.rejected,
                                             result.outcome.detail)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class ElasticsearchSink:
    """Every alert version into the alerts index, in bulk, with the shared retrying writer."""

    name = ELASTICSEARCH

    def __init__(self, settings: Settings, dead_letters: _DeadLetters):
        self.settings, self.dead_letters = settings, dead_letters
        self.client: AsyncElasticsearch | None = None
        self.writer: BulkWriter | None = None

    async def _connect(self) -> BulkWriter:
        s = self.settings
        delay = s.es_retry_initial_seconds
        while self.writer is None:
            try:
                self.client = self.client or AsyncElasticsearch(s.es_url, request_timeout=s.es_request_timeout)
                await ensure_alerts_index(self.client, s.es_alerts_index)
                self.writer = BulkWriter(self.client, s.es_alerts_index, initial_backoff=s.es_retry_initial_seconds,
                                         max_backoff=s.es_retry_max_seconds)
            except Exception as exc:  # noqa: BLE001 - anything here means "not ready yet"
                log.warning("elasticsearch not ready for alerts; retrying", extra={"error": repr(exc)[:300],
                                                                                   "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, s.es_retry_max_seconds)
        return self.writer

    async def handle(self, records: Sequence[ConsumerRecord]) -> None:
        writer = await self._connect()
        good, bad = _parse(records)
        for record, detail in bad:
            await self.dead_letters.send(record, "index-alerts", DeadLetterReason.schema_violation, detail)
        by_id = {}
        docs = []
        for record, alert in good:
            doc_id, doc = alert_document(alert)
            by_id[doc_id] = record
            docs.append((doc_id, doc))
        result = await writer.write(docs)
        DELIVERIES.labels(destination=self.name, outcome="delivered").inc(result.indexed)
        for rejected in result.rejected:
            DELIVERIES.labels(destination=self.name, outcome="rejected").inc()
            await self.dead_letters.send(by_id[rejected.doc_id], "index-alerts", DeadLetterReason.rejected,
                                         f"elasticsearch status {rejected.status}: {rejected.reason}")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = self.writer = None


async def consume(settings: Settings, sink, *, batch: int = 100) -> None:
    """Feed `sink` from the alerts topic in the sink's own group; commit after each handled batch."""
    consumer = AIOKafkaConsumer(settings.topic_alerts, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=group_id(settings, sink.name), enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_interval_ms=3_600_000)
    await consumer.start()
    log.info("alert delivery started", extra={"destination": sink.name, "group": group_id(settings, sink.name),
                                              "topic": settings.topic_alerts})
    try:
        while True:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=batch)
            for tp, records in fetched.items():
                await sink.handle(records)
                try:
                    await consumer.commit({TopicPartition(tp.topic, tp.partition): records[-1].offset + 1})
                except (CommitFailedError, IllegalStateError) as exc:
                    # the group rebalanced while we were retrying: the records come back, ids keep it harmless
                    log.warning("alert offsets not committed", extra={"destination": sink.name, "error": repr(exc)})
    finally:
        try:
            await consumer.stop()
        except KafkaError:  # pragma: no cover - shutting down anyway
            pass
        await sink.close()


def build_sinks(settings: Settings, only: Sequence[str] = ()) -> tuple[list, _DeadLetters]:
    dead_letters = _DeadLetters(settings)
    sinks: list = []
    wanted = set(only)
    backoff = backoff_from(settings)
    for name, destination in destinations_from(settings).items():
        if not wanted or name in wanted:
            sinks.append(HttpSink(destination, backoff, settings.alerts.request_timeout_seconds, dead_letters))
    if settings.alerts.index_in_elasticsearch and (not wanted or ELASTICSEARCH in wanted):
        sinks.append(ElasticsearchSink(settings, dead_letters))
    return sinks, dead_letters


async def run(settings: Settings, only: Sequence[str] = ()) -> None:
    """Run every enabled destination until cancelled; one failing destination never stops the others."""
    sinks, dead_letters = build_sinks(settings, only)
    if not sinks:
        log.info("no alert destination configured")
        return
    try:
        await asyncio.gather(*(_forever(settings, sink) for sink in sinks))
    finally:
        await dead_letters.close()


async def _forever(settings: Settings, sink) -> None:
    delay = settings.alerts.retry_initial_seconds
    while True:
        try:
            await consume(settings, sink)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken destination loop restarts; others keep going
            log.error("alert delivery loop failed; restarting", extra={"destination": sink.name,
                                                                        "error": repr(exc)[:300], "retry_in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.alerts.retry_max_seconds)
