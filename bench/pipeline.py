"""Luister itself: Faust workers on the shared local Kafka and Elasticsearch.

* `saturation()`: a backlog is published first, then k workers (one consumer group) drain
  it; the rate is the slope of Elasticsearch's document count over a steady window that
  starts once every worker is ready and the group has settled. CPU per process (workers,
  Kafka, Elasticsearch, the rest of the machine) and each worker's peak RSS are read from
  /proc over the same window; the time each stage spends comes from the workers' /metrics.
* `latency()`: paced publishing (`Connector.run(rate_per_second=...)`) at a given rate while
  luister.demo's `SearchableProbe` polls Elasticsearch and notes when each mention first
  became searchable: publish→searchable p50/p95/p99.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch

from bench.env import RUN_DIR, CpuMeter, Scenario, peak_rss_mb, service_pids
from schemas import RawMention

Say = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish(settings, mentions: Sequence[RawMention], rate: float | None = None):
    from connectors.base import Connector
    from connectors.publisher import MentionPublisher

    class _List(Connector):
        name = "bench"

        def records(self):
            yield from mentions

    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
        return _List().run(publisher, rate_per_second=rate)


def count(es: Elasticsearch, alias: str) -> int:
    try:
        return es.count(index=alias)["count"]
    except Exception:  # noqa: BLE001 - the alias appears with the first document
        return 0


def scrape(port: int) -> dict[str, float]:
    """The worker's Prometheus counters and histogram sums, flattened `name{labels}` -> value."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


@dataclass
class Workers:
    scenario: Scenario
    n: int
    env_extra: dict[str, str] = field(default_factory=dict)
    workers: list = field(default_factory=list)

    def start(self) -> None:
        from tests.support import Worker

        logs = RUN_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.scenario.env, **self.env_extra}
        data_dir = env["LUISTER_WORKER_DATA_DIR"]
        # one RocksDB folder per worker, as on separate hosts (two processes cannot share its lock)
        self.workers = [Worker(env={**env, "LUISTER_WORKER_DATA_DIR": f"{data_dir}/w{i}"},
                               log_path=logs / f"{self.scenario.name}-{self.scenario.tag}-w{i}.log",
                               web_port=_free_port()) for i in range(self.n)]
        for w in self.workers:
            w.start(ready_timeout=300)

    @property
    def pids(self) -> dict[str, int]:
        return {f"worker{i}": w.proc.pid for i, w in enumerate(self.workers)}

    def stop(self) -> None:
        for w in self.workers:
            w.stop()

    def metrics(self) -> list[dict[str, float]]:
        return [scrape(w.web_port) for w in self.workers]


def _stage_seconds(before: list[dict], after: list[dict]) -> dict[str, float]:
    """CPU-ish wall time per stage (sum of batch durations) between two scrapes, over all workers."""
    out: dict[str, float] = {}
    for b, a in zip(before, after):
        for key, value in a.items():
            if key.startswith(("luister_stage_batch_seconds_sum", "luister_model_inference_seconds_sum")):
                label = key.split('"')[1] if '"' in key else key
                name = "model" if key.startswith("luister_model") else label
                out[name] = out.get(name, 0.0) + value - b.get(key, 0.0)
    return {k: round(v, 2) for k, v in sorted(out.items())}


def saturation(scenario: Scenario, workers: int, backlog: int, window: float, say: Say,
               settle: float = 4.0, profile_to: Path | None = None) -> dict:
    """Drain a pre-published backlog of `backlog` mentions with `workers` workers."""
    from luister.kafka_admin import create_topics

    settings = scenario.settings
    create_topics(settings)
    es = Elasticsearch(settings.es_url, request_timeout=30)
    alias = settings.es_write_alias
    pool = Workers(scenario, workers)
    say(f"  starting {workers} worker(s) on a backlog of {backlog}")
    t_start = time.monotonic()
    pool.start()
    ready_s = time.monotonic() - t_start
    try:
        time.sleep(settle)  # the group settles (a rebalance when the second worker joins)
        # and the stages fill: documents reach the index only after normalize, classify and profile ran
        primed, deadline = max(200, backlog // 30), time.monotonic() + 120
        while count(es, alias) < primed and time.monotonic() < deadline:
            time.sleep(0.5)
        meter = CpuMeter({**pool.pids, **service_pids()})
        before = pool.metrics()
        c0, t0 = count(es, alias), time.monotonic()
        meter.start()
        spy = _start_profiler(pool.pids["worker0"], window, profile_to) if profile_to else None
        series = [(t0, c0)]
        while time.monotonic() - t0 < window:
            time.sleep(0.5)
            series.append((time.monotonic(), count(es, alias)))
            if series[-1][1] >= backlog * 0.97:
                break  # the backlog is nearly drained: the tail is not steady state
        cores = meter.stop()
        after = pool.metrics()
        if spy is not None:
            spy.wait(timeout=window + 60)
        t1, c1 = series[-1]
        rate = (c1 - c0) / (t1 - t0)
        rss = {name: round(peak_rss_mb(pid)) for name, pid in pool.pids.items()}
        say(f"  {workers} worker(s): {rate:.0f} mentions/s over {t1 - t0:.0f}s ({c0}→{c1}); CPU cores {cores}; "
            f"peak RSS MiB {rss}")
        return {"workers": workers, "per_second": round(rate, 1), "window_seconds": round(t1 - t0, 1),
                "documents": [c0, c1], "backlog": backlog, "startup_seconds": round(ready_s, 1), "cpu_cores": cores,
                "peak_rss_mb": rss, "stage_seconds": _stage_seconds(before, after),
                "mentions_per_worker_cpu_second": round(
                    rate / max(sum(v for k, v in cores.items() if k.startswith("worker")), 1e-9), 1)}
    finally:
        pool.stop()


def _start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy samples the worker (native frames off, subprocesses off) into a speedscope file."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", "50", "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _segments(es: Elasticsearch, alias: str, ids: set[str]) -> dict[str, dict[str, float]]:
    """Where a mention's latency goes, from its own timestamps: publish→classified (normalize,
    classify), classified→bulk-indexed (enrich, profile, index batching); p50/p99 in seconds."""
    from datetime import datetime

    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10_000, query={"ids": {"values": sorted(ids)}},
                     source=["ingested_at", "processed_at", "indexed_at"])["hits"]["hits"]
    parts: dict[str, list[float]] = {"publish→classified": [], "classified→indexed": []}
    for h in hits:
        s = h["_source"]
        at = {k: datetime.fromisoformat(s[k]) for k in ("ingested_at", "processed_at", "indexed_at") if s.get(k)}
        if len(at) == 3:
            parts["publish→classified"].append((at["processed_at"] - at["ingested_at"]).total_seconds())
            parts["classified→indexed"].append((at["indexed_at"] - at["processed_at"]).total_seconds())
    return {name: {"p50": round(_percentile(sorted(v), 50), 3), "p99": round(_percentile(sorted(v), 99), 3)}
            for name, v in parts.items() if v}


def latency(scenario: Scenario, mentions: Sequence[RawMention], rate: float, say: Say) -> dict:
    """publish→searchable at a steady `rate` (mentions/s), one worker."""
    from datetime import datetime, timezone

    from luister.demo import SearchableProbe
    from luister.kafka_admin import create_topics

    settings = scenario.settings
    create_topics(settings)
    es = Elasticsearch(settings.es_url, request_timeout=30)
    pool = Workers(scenario, 1)
    pool.start()
    try:
        warm = publish(settings, mentions[:64])  # the first batches pay for lazy set-up: not measured
        deadline = time.monotonic() + 120
        while count(es, settings.es_write_alias) < warm.valid and time.monotonic() < deadline:
            time.sleep(0.5)
        paced = mentions[64:]
        probe = SearchableProbe(es, settings.es_write_alias, datetime.now(timezone.utc), interval=0.2)
        probe.start()
        say(f"  publishing {len(paced)} mentions at {rate:.0f}/s")
        stats = publish(settings, paced, rate=rate)
        ids = set(stats.published_ids)
        deadline = time.monotonic() + 90
        while len(ids & probe.latency_s.keys()) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.5)
        probe.stop()
        values = sorted(probe.latency_s[i] for i in ids if i in probe.latency_s)
        rss = round(peak_rss_mb(pool.pids["worker0"]))
        segments = _segments(es, settings.es_write_alias, ids)
    finally:
        pool.stop()
    if not values:
        return {"rate": rate, "error": "nothing became searchable"}
    result = {"rate": round(rate, 1), "published": len(ids), "searchable": len(values),
              "achieved_rate": round(len(ids) / stats.seconds, 1),
              "p50": round(_percentile(values, 50), 3), "p95": round(_percentile(values, 95), 3),
              "p99": round(_percentile(values, 99), 3), "max": round(values[-1], 3),
              "probe_interval_s": probe.interval, "peak_rss_mb": rss, "segments": segments}
    say(f"  publish→searchable at {rate:.0f}/s: p50 {result['p50']}s p95 {result['p95']}s p99 {result['p99']}s "
        f"({len(values)}/{len(ids)} seen)")
    return result
