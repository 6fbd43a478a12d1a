"""The worker's operations surface: `/metrics`, `/healthz`, `/readyz` on Faust's web port,
and the metrics only the running Faust app can know.

* records in, per stage: a Faust sensor counts every event a stage's stream takes (the
  stage is the agent's name), so a new agent is counted without touching its code;
* crashes, per stage: Faust's agent `on_error` hook (Faust restarts the agent);
* assignment, consumer lag, table sizes: a timer every `metrics_interval_seconds`. Lag is
  end offset minus the group's committed offset (what `kafka-consumer-groups` shows), for the
  partitions this worker owns, so summing over workers gives the group's lag;
* readiness: the worker has recovered its tables and started its tasks, and the index stage
  has reached Elasticsearch at least once.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core import __version__, metrics
from core.redact import redact_url
from pipeline.app import app, settings
from pipeline.faust_compat import not_fetching, on_agent_error
from pipeline.watchdog import ProgressWatchdog

log = logging.getLogger(__name__)

_state: dict = {"started": False, "stalled": {}}  # stalled: (topic, partition) -> lag
_watchdog = ProgressWatchdog(settings.stall_after_seconds)


def readiness() -> tuple[bool, str]:
    if not _state["started"]:
        return False, "starting: recovering tables or joining the consumer group"
    if not metrics.DEPENDENCIES.get("elasticsearch", False):
        return False, f"waiting for Elasticsearch at {redact_url(settings.es_url)}"
    if _state["stalled"]:
        names = ", ".join(f"{t}:{p} (lag {n})" for (t, p), n in sorted(_state["stalled"].items()))
        return False, f"no progress for {settings.stall_after_seconds:.0f}s on {names}"
    return True, "ready"


# ------------------------------------------------------------------ HTTP

@app.page("/metrics")
async def metrics_view(web, request):
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/healthz")
async def health_view(web, request):
    return web.json({"status": "ok", "app": app.conf.id})


@app.page("/readyz")
async def ready_view(web, request):
    ok, reason = readiness()
    metrics.READY.set(1 if ok else 0)
    return web.json({"ready": ok, "reason": reason, "app": app.conf.id, "rebalancing": bool(app.rebalancing),
                     **_fetch_state()}, status=200 if ok else 503)


def _fetch_state() -> dict[str, list[str]]:
    """Assigned partitions this worker is not fetching (paused, or held back because a stream's
    buffer is full): a partition stuck here has lag that never drains."""
    consumer = app.consumer

    def names(tps) -> list[str]:
        return sorted(f"{tp.topic}:{tp.partition}" for tp in tps or ())
    try:
        assigned = consumer.assignment()
    except Exception:  # noqa: BLE001 - not started yet
        return {}
    return {state: names(partitions & assigned) for state, partitions in not_fetching(consumer).items()}


# ------------------------------------------------------------------ stage counters

class StageSensor(faust.Sensor):
    """Counts what each stage takes in; `outcome` counters stay with the stages themselves."""

    def on_stream_event_in(self, tp, offset, stream, event) -> dict | None:
        metrics.STAGE_RECEIVED.labels(stage=metrics.stage_of(stream.prefix or "")).inc()
        return None


app.sensors.add(StageSensor())


async def _count_crash(agent: Any, exc: BaseException) -> None:
    metrics.STAGE_ERRORS.labels(stage=metrics.stage_of(agent.name)).inc()
    log.error("stage crashed; Faust restarts it", extra={"stage": metrics.stage_of(agent.name), "error": repr(exc)[:500]})


def hook_agent_errors() -> None:
    """Count every agent's crashes (then Faust's own handler runs: it tells the consumer)."""
    for agent in app.agents.values():
        on_agent_error(agent, _count_crash)


@app.on_rebalance_complete.connect
async def _on_rebalanced(sender: Any = None, **kwargs: Any) -> None:
    metrics.REBALANCES.inc()
    _refresh_assignment()


# ------------------------------------------------------------------ assignment, lag, tables

def _assigned() -> set:
    try:
        return set(app.consumer.assignment())
    except Exception:  # noqa: BLE001 - consumer not started yet
        return set()


def _input_partitions(assigned: set) -> list[tuple[str, int]]:
    """Assigned partitions of the topics stages consume (not table changelogs or the leader topic)."""
    internal = set(app.tables.changelog_topics) | {f"{app.conf.id}-__assignor-__leader"}  # Faust's own
    return sorted((tp.topic, tp.partition) for tp in assigned if tp.topic not in internal)


def _refresh_assignment() -> None:
    by_topic: dict[str, int] = {}
    for topic, _partition in _input_partitions(_assigned()):
        by_topic[topic] = by_topic.get(topic, 0) + 1
    known = {labels[0] for labels in _label_sets(metrics.ASSIGNED_PARTITIONS)}
    for topic in known | set(by_topic):
        metrics.ASSIGNED_PARTITIONS.labels(topic=topic).set(by_topic.get(topic, 0))


def _label_sets(metric: Any) -> list[tuple[str, ...]]:
    return [tuple(sample.labels.values()) for family in metric.collect() for sample in family.samples]


class _LagReader:
    """kafka-python clients, used from one executor thread at a time (the timer awaits each call)."""

    def __init__(self, bootstrap: str, group_id: str):
        self.bootstrap, self.group_id = bootstrap, group_id
        self._admin = None
        self._consumer = None
        self._lock = threading.Lock()

    def read(self, partitions: list[tuple[str, int]]) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """(lag, committed offset) per partition."""
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        with self._lock:
            if self._admin is None:
                self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.group_id}-lag")
                self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                               client_id=f"{self.group_id}-lag")
            tps = [TopicPartition(t, p) for t, p in partitions]
            end = {(tp.topic, tp.partition): off for tp, off in self._consumer.end_offsets(tps).items()}
            offsets = self._admin.list_group_offsets({self.group_id: tps}).get(self.group_id, {})
            committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
            return metrics.consumer_lag(end, committed), committed

    def close(self) -> None:
        with self._lock:
            for client in (self._admin, self._consumer):
                if client is not None:
                    client.close()
            self._admin = self._consumer = None


_lag_reader = _LagReader(settings.kafka_bootstrap, settings.app_id)


def _table_sizes() -> dict[str, int]:
    return {name: len(table) for name, table in app.tables.items()}


async def _refresh_lag() -> None:
    loop = asyncio.get_running_loop()
    partitions = _input_partitions(_assigned())
    lag, committed = await loop.run_in_executor(None, _lag_reader.read, partitions) if partitions else ({}, {})
    for topic, partition in {(t, int(p)) for t, p in _label_sets(metrics.CONSUMER_LAG)} - set(lag):
        metrics.CONSUMER_LAG.remove(topic, str(partition))  # moved to another worker: its series ends here
    for (topic, partition), value in lag.items():
        metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(value)
    _watch_progress(lag, committed)


def _watch_progress(lag: dict[tuple[str, int], int], committed: dict[tuple[str, int], int]) -> None:
    """Stalled partitions: a metric, a log line when one stalls (and when it moves again), /readyz fails."""
    stalled = _watchdog.observe(time.monotonic(), committed, lag)
    for topic, partition in {(t, int(p)) for t, p in _label_sets(metrics.PARTITION_STALLED)} - set(lag):
        metrics.PARTITION_STALLED.remove(topic, str(partition))
    for tp in lag:
        metrics.PARTITION_STALLED.labels(topic=tp[0], partition=str(tp[1])).set(round(stalled.get(tp, 0.0), 1))
    for tp in sorted(set(stalled) - set(_state["stalled"])):
        log.error("partition stalled: lag and no progress", extra={
            "topic": tp[0], "partition": tp[1], "lag": lag[tp], "committed": committed.get(tp),
            "stalled_s": round(stalled[tp], 1)})
    for tp in sorted(set(_state["stalled"]) - set(stalled)):
        log.info("partition moving again", extra={"topic": tp[0], "partition": tp[1]})
    _state["stalled"] = {tp: lag.get(tp, 0) for tp in stalled}


@app.timer(interval=settings.metrics_interval_seconds)
async def refresh_operational_metrics() -> None:
    metrics.READY.set(1 if readiness()[0] else 0)
    _refresh_assignment()
    try:
        await _refresh_lag()
        metrics.set_dependency("kafka", True)
    except Exception as exc:  # noqa: BLE001 - a failed refresh must never stop the worker
        metrics.set_dependency("kafka", False)
        log.warning("could not read consumer lag", extra={"error": repr(exc)[:300]})
        await asyncio.get_running_loop().run_in_executor(None, _lag_reader.close)
    try:
        sizes = await asyncio.get_running_loop().run_in_executor(None, _table_sizes)
        for name, size in sizes.items():
            metrics.TABLE_KEYS.labels(table=name).set(size)
    except Exception as exc:  # noqa: BLE001 - e.g. a store closed by a rebalance mid-count
        log.debug("could not size tables", extra={"error": repr(exc)[:300]})


@app.task
async def mark_started() -> None:
    """Faust starts app tasks once tables are recovered: from here on the worker processes."""
    hook_agent_errors()  # again: agents registered after the worker module hooked them
    metrics.BUILD_INFO.labels(version=__version__, component="worker", classifier=settings.classifier).set(1)
    _state["started"] = True
    _refresh_assignment()


@app.on_before_shutdown.connect
async def _close_lag_reader(sender: Any = None, **kwargs: Any) -> None:
    await asyncio.get_running_loop().run_in_executor(None, _lag_reader.close)

