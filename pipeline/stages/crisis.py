"""Faust wiring of crisis detection: thin loops around `pipeline.crisis.detect`.

    mentions.classified (key: customer) --crisis_rekey--> <prefix>.by_brand (key: brand)
        --crisis_detect (table crisis-state, key: brand)--> alerts (key: alert id)
        --delivery consumers (sinks/alerts/runner.py, own groups)--> Slack, PagerDuty, Alertmanager,
                                                                     webhook, Elasticsearch

Re-keying by brand puts all of a brand's windows on one worker; the state table's changelog partition
follows the key (`use_partitioner=True`) like the by-brand topic's. Each brand state remembers the
last by-brand offset it applied, so events replayed after a crash are not counted twice. Stream time
is event time; every `TICK_SECONDS` of stream time a partition's other brands with open alerts are
moved on to it, so an alert resolves even when its brand goes silent.
"""
from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka.partitioner import murmur2
from prometheus_client import Counter, Gauge

from core.signing import digests_match
from pipeline import topics
from pipeline.app import app, settings
from pipeline.crisis.detect import BrandState, Detector, Facts
from pipeline.dead_letters import dead_letter_event
from pipeline.faults import describe, maybe_fail
from pipeline.faust_compat import as_current, wait_for_partitions
from schemas import Alert, ClassifiedMention, DeadLetterReason

log = logging.getLogger(__name__)

cfg = settings.crisis
# key_type=bytes on the table itself: the store and the changelog recovery take their key codec from it
# (raw), not from the schema; without it a restart fails to decode the recovered keys as JSON
state_table = app.Table("crisis-state", default=None, partitions=settings.topic_partitions, use_partitioner=True,
                        key_type=bytes,
                        schema=faust.Schema(key_type=bytes, key_serializer="raw", value_serializer="json"),
                        help="BrandState (pipeline/crisis/state.py) per brand, JSON")

ALERTS = Counter("luister_crisis_alerts_total", "Alert versions published", ["kind", "status"])
MENTIONS = Counter("luister_crisis_mentions_total", "Mentions seen by crisis detection", ["outcome"])
STREAM_TIME = Gauge("luister_crisis_stream_time_seconds", "Latest stream time (created_at) per partition",
                    ["partition"])

detector = Detector(cfg)
_watermarks: dict[int, float] = {}  # by-brand partition -> latest stream time seen
# brands with an open alert, as this worker last stored them (after a restart a brand joins again with
# its next mention)
_open: set[bytes] = set()
TICK_SECONDS = 10.0  # stream seconds between moving a partition's silent brands on


def brand_partition(key: bytes, partitions: int = settings.topic_partitions) -> int:
    """The partition Kafka's default partitioner gives `key` (the by-brand topic and the table agree)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _load(key: bytes) -> BrandState:
    data = state_table.get(key)
    return BrandState.from_json(data) if data else BrandState(key.decode())


def _store(key: bytes, state: BrandState) -> None:
    state_table[key] = state.to_json()  # assigned back on every change: the changelog must see it
    _mark_open(key, state)


def _mark_open(key: bytes, state: BrandState) -> None:
    (_open.add if state.incidents else _open.discard)(key)


async def _publish(alerts: list[Alert]) -> None:
    for alert in alerts:
        ALERTS.labels(kind=alert.kind.value, status=alert.status.value).inc()
        log.info("crisis alert", extra={"alert_id": alert.id, "status": alert.status.value, "kind": alert.kind.value,
                                        "brand": alert.brand, "topic": alert.topic, "severity": alert.severity,
                                        "stream_time": alert.updated_at.isoformat()})
        await topics.alerts.send(key=alert.id.encode(), value=alert.model_dump_json().encode())


if cfg.enabled:

    @app.agent(topics.classified_mentions)
    async def crisis_rekey(stream):
        """mentions.classified -> by-brand topic, unchanged, with the brand as key.

        The record keeps the producer's time, not created_at: Kafka's retention deletes records by
        their timestamp, so a replay of month-old mentions would vanish before the detector read them
        (the detector takes stream time from created_at in the value)."""
        async for events in stream.take_events(cfg.batch_size, within=settings.batch_within_seconds):
            for event in events:
                try:
                    mention = ClassifiedMention.model_validate_json(event.message.value)
                except ValueError:  # the index agent dead-letters it with the reason
                    MENTIONS.labels(outcome="invalid").inc()
                    continue
                await topics.mentions_by_brand.send(key=mention.brand.encode(), value=event.message.value)

    @app.agent(topics.mentions_by_brand)
    async def crisis_detect(stream):
        """by-brand topic -> windows and baselines in `crisis-state` -> alerts topic, a batch at a time.

        Each brand's state is read and written once per batch (it was once per mention, and a brand
        has many). Should a mention fail, the batch is redone one event at a time, as before."""
        # the table picks its changelog partition from the producer's metadata: have it before the first write
        await wait_for_partitions(app, state_table.changelog_topic.get_topic_name())
        async for events in stream.take_events(cfg.batch_size, within=settings.batch_within_seconds):
            try:
                alerts = _detect_batch(events)
            except _Failed:
                alerts = []
                for event in events:
                    alerts += await _detect_one(event)
            await _publish(alerts)


class _Failed(Exception):
    """A mention of the batch failed: nothing of the batch was stored."""


def _detect_batch(events) -> list[Alert]:
    """Fold the batch into the brands' states, then store each changed state once. No await in between,
    so nothing else touches the table meanwhile; on any failure, restore what it changed and raise _Failed."""
    open_before, watermarks_before = set(_open), dict(_watermarks)
    working: dict[bytes, list] = {}  # brand -> [state, the event whose partition the write goes to]
    changed: set[bytes] = set()

    def keep(key: bytes, state: BrandState) -> None:
        changed.add(key)
        _mark_open(key, state)

    def state_of(key: bytes, event) -> BrandState:
        if key not in working:
            with as_current(event):
                working[key] = [_load(key), event]
        working[key][1] = event
        return working[key][0]

    alerts: list[Alert] = []
    outcomes: list[str] = []
    try:
        for event in events:
            try:
                mention = ClassifiedMention.model_validate_json(event.message.value)
            except ValueError:
                outcomes.append("invalid")
                continue
            maybe_fail("crisis", mention.id)
            facts = Facts.from_mention(mention, cfg)
            key = mention.brand.encode()
            state = state_of(key, event)
            if event.message.offset <= state.offset:
                outcomes.append("replayed")
                continue
            alerts += detector.observe(state, facts)
            state.offset = event.message.offset
            keep(key, state)
            outcomes.append("counted")
            alerts += _tick_partition(event.message.partition, facts.ts, skip=key,
                                      load=lambda other, e=event: state_of(other, e), store=keep)
    except Exception as exc:  # redone one event at a time, which dead-letters the culprit
        _open.clear()
        _open.update(open_before)
        _watermarks.clear()
        _watermarks.update(watermarks_before)
        raise _Failed from exc
    for key in changed:
        state, event = working[key]
        with as_current(event):
            state_table[key] = state.to_json()  # assigned back: the changelog must see it
    for outcome in outcomes:
        MENTIONS.labels(outcome=outcome).inc()
    return alerts


async def _detect_one(event) -> list[Alert]:
    """One mention, its brand's state read and written around it (the fallback for a failed batch)."""
    msg = event.message
    try:
        mention = ClassifiedMention.model_validate_json(msg.value)
    except ValueError:
        MENTIONS.labels(outcome="invalid").inc()
        return []
    key = mention.brand.encode()
    with as_current(event):
        state = _load(key)
        if msg.offset <= state.offset:
            MENTIONS.labels(outcome="replayed").inc()
            return []
        try:
            maybe_fail("crisis", mention.id)
            facts = Facts.from_mention(mention, cfg)
            alerts = detector.observe(state, facts)
        except Exception as exc:  # noqa: BLE001 - a bug must not skip the mention silently
            MENTIONS.labels(outcome="failed").inc()
            await dead_letter_event(event, "crisis", DeadLetterReason.processing_error, describe(exc), mention.id)
            return []
        state.offset = msg.offset
        _store(key, state)
        MENTIONS.labels(outcome="counted").inc()
        return alerts + _tick_partition(msg.partition, facts.ts, skip=key)


def _tick_partition(partition: int, ts: float, *, skip: bytes, load=None, store=None) -> list[Alert]:
    """Move the partition's other brands with open alerts on to its stream time (every tick interval).

    `load`/`store`: how a brand's state is read and kept (default: the table; a batch keeps its own)."""
    load, store = load or _load, store or _store
    last = _watermarks.get(partition)
    if last is not None and ts < last + TICK_SECONDS:
        return []
    _watermarks[partition] = ts if last is None else max(ts, last)
    STREAM_TIME.labels(partition=str(partition)).set(_watermarks[partition])
    alerts: list[Alert] = []
    for key in list(_open):
        if key != skip and brand_partition(key) == partition:
            state = load(key)
            alerts += detector.advance(state, _watermarks[partition])
            store(key, state)
    return alerts


@app.page("/crisis/{brand}/")
async def crisis_view(web, request, brand: str):
    """The brand's windows, baselines and open alerts, if this worker holds the brand's partition.

    It shows example mentions (personal data): off unless `worker_pages_token` is set, and then only
    for `Authorization: Bearer <token>`."""
    token = settings.worker_pages_token
    if token is None:
        return web.json({"error": "not found"}, status=404)
    if not digests_match(f"Bearer {token.get_secret_value()}", request.headers.get("Authorization")):
        return web.json({"error": "unauthorized"}, status=401)
    data = state_table.get(brand.encode())
    if not data:
        return web.json({"error": f"no crisis state for {brand} on this worker"}, status=404)
    return web.json(detector.snapshot(BrandState.from_json(data)))


if settings.alerts.deliver_in_worker:

    @app.task
    async def deliver_alerts() -> None:
        """The delivery consumers run beside the agents (or alone: `luister alerts deliver`)."""
        from sinks.alerts.runner import run

        try:
            await run(settings)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - delivery must not take the worker down
            log.exception("alert delivery stopped")
