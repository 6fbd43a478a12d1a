"""Luister itself: Faust workers on the shared local Kafka and Elasticsearch.

* `saturation()`: k workers (one consumer group) start on empty topics; once they are ready,
  a burst of mentions is published and the rate is mentions searchable ÷ the time from the
  start of publishing until (nearly) all are. CPU per process (workers, Kafka, Elasticsearch,
  the rest of the machine) and each worker's peak RSS are read from /proc over the same
  window; the time each stage spends comes from the workers' /metrics.
* `latency()`: paced publishing (`Connector.run(rate_per_second=...)`) at a given rate while
  harness.probe's `SearchableProbe` polls Elasticsearch and notes when each mention first
  became searchable: publish→searchable p50/p95/p99.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch

from bench.env import RUN_DIR, CpuMeter, Scenario, peak_rss_mb, service_pids
from harness.stats import percentile
from schemas import RawMention

Say = Callable[[str], None]


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
        from harness.net import free_port
        from harness.worker import WorkerProcess

        logs = RUN_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.scenario.env, **self.env_extra}
        data_dir = env["LUISTER_WORKER_DATA_DIR"]
        # one RocksDB folder per worker, as on separate hosts (two processes cannot share its lock)
        self.workers = [WorkerProcess(env={**env, "LUISTER_WORKER_DATA_DIR": f"{data_dir}/w{i}"},
                               log_path=logs / f"{self.scenario.name}-{self.scenario.tag}-w{i}.log",
                               web_port=free_port()) for i in range(self.n)]
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


STAGES = ("normalize", "classify", "profile", "index")  # each mention passes through all four, in this order


def _stage_events(before: list[dict], after: list[dict]) -> dict[str, float]:
    """Records each stage handled (any outcome) between two scrapes, over all workers."""
    out = dict.fromkeys(STAGES, 0.0)
    for b, a in zip(before, after):
        for key, value in a.items():
            if key.startswith("luister_stage_events_total{"):
                stage = key.split('stage="')[1].split('"')[0]
                if stage in out:
                    out[stage] += value - b.get(key, 0.0)
    return out


def saturation(scenario: Scenario, workers: int, mentions: Sequence[RawMention], max_seconds: float, say: Say,
               settle: float = 4.0, profile_to: Path | None = None) -> dict:
    """`workers` workers (one group) drain a burst of `mentions` published once they are ready.

    Rate = mentions searchable ÷ the time from the start of publishing until (nearly) all are:
    every stage's queue starts empty, so no stage is counted while it merely catches up on work
    the stages before it did outside the window (a slope over a window after a warm-up overstated
    the rate that way: the stages before the index run ahead while the workers start). It includes
    filling and emptying the pipeline, about one publish→searchable latency: a conservative rate."""
    from core.kafka_admin import create_topics

    settings = scenario.settings
    create_topics(settings)
    es = Elasticsearch(settings.es_url, request_timeout=30)
    alias = settings.es_write_alias
    pool = Workers(scenario, workers)
    say(f"  starting {workers} worker(s), then publishing {len(mentions)} mentions at once")
    t_start = time.monotonic()
    pool.start()
    ready_s = time.monotonic() - t_start
    try:
        time.sleep(settle)  # the group settles (a rebalance when the second worker joins), lazy set-up ends
        meter = CpuMeter({**pool.pids, **service_pids()})
        before = pool.metrics()
        spy = _start_profiler(pool.pids["worker0"], profile_to) if profile_to else None
        t0 = time.monotonic()
        meter.start()
        valid = publish(settings, mentions).valid
        c1 = 0
        while time.monotonic() - t0 < max_seconds:
            time.sleep(0.5)
            c1 = count(es, alias)
            if c1 >= valid * 0.99:
                break  # the last few wait for a batch timeout: not the pipeline's rate
        t1 = time.monotonic()
        cores = meter.stop()
        after = pool.metrics()
        if spy is not None:
            spy.stop()
        rate = c1 / (t1 - t0)
        handled = _stage_events(before, after)
        rss = {name: round(peak_rss_mb(pid)) for name, pid in pool.pids.items()}
        say(f"  {workers} worker(s): {rate:.0f} mentions/s ({c1} of {valid} searchable after {t1 - t0:.1f}s; "
            f"stages handled {', '.join(f'{k} {v:.0f}' for k, v in handled.items())}); CPU cores {cores}; "
            f"peak RSS MiB {rss}")
        return {"workers": workers, "per_second": round(rate, 1), "window_seconds": round(t1 - t0, 1),
                "mentions": c1, "published": valid, "stage_events": handled, "startup_seconds": round(ready_s, 1),
                "cpu_cores": cores, "peak_rss_mb": rss, "stage_seconds": _stage_seconds(before, after),
                "mentions_per_worker_cpu_second": round(
                    rate / max(sum(v for k, v in cores.items() if k.startswith("worker")), 1e-9), 1)}
    finally:
        pool.stop()


class _Profilers:
    """py-spy processes sampling until stopped (SIGINT: each writes its file and exits)."""

    def __init__(self, procs: list[subprocess.Popen]):
        self.procs = procs

    def stop(self, timeout: float = 60) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()


def _start_profiler(pid: int, out: Path) -> _Profilers | None:
    """py-spy samples the worker twice, into `out` (every thread) and `<out>-gil.txt` (only the thread
    holding the GIL: the Python work, whose one core is the worker's ceiling); `python -m bench.spy` reads them."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = [(out, []), (out.with_name(f"{out.stem}-gil{out.suffix}"), ["--gil"])]
    return _Profilers([subprocess.Popen([str(spy), "record", "--pid", str(pid), "--rate", "50", "--format", "raw",
                                         "--output", str(path), "--nonblocking", *flags],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                       for path, flags in runs])


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
    return {name: {"p50": round(percentile(sorted(v), 50), 3), "p99": round(percentile(sorted(v), 99), 3)}
            for name, v in parts.items() if v}


def latency(scenario: Scenario, mentions: Sequence[RawMention], rate: float, say: Say) -> dict:
    """publish→searchable at a steady `rate` (mentions/s), one worker."""
    from datetime import datetime, timezone

    from core.kafka_admin import create_topics
    from harness.probe import SearchableProbe

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
              "p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
              "p99": round(percentile(values, 99), 3), "max": round(values[-1], 3),
              "probe_interval_s": probe.interval, "peak_rss_mb": rss, "segments": segments}
    say(f"  publish→searchable at {rate:.0f}/s: p50 {result['p50']}s p95 {result['p95']}s p99 {result['p99']}s "
        f"({len(values)}/{len(ids)} seen)")
    return result
