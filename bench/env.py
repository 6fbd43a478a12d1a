"""Isolation and measurement helpers for the benchmarks.

Each scenario gets its own topics, consumer group, indices and worker data dir on the
shared local services (like tests/conftest.py `isolated_env`), and removes them after.
Per-process CPU time and peak RSS come from /proc.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from luister.config import PROJECT_ROOT, Settings

RUN_DIR = PROJECT_ROOT / ".cache" / "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Scenario:
    """One benchmark's isolated names: `raw` may be shared with another scenario (a backlog
    consumed twice by different consumer groups)."""

    name: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    raw_topic: str | None = None
    partitions: int = 4
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"bench-{self.tag}"

    @property
    def env(self) -> dict[str, str]:
        p = self.prefix
        return {
            "LUISTER_APP_ID": f"luister-{p}",
            "LUISTER_TOPIC_RAW": self.raw_topic or f"{p}.raw",
            "LUISTER_TOPIC_NORMALIZED": f"{p}.normalized",
            "LUISTER_TOPIC_CLASSIFIED": f"{p}.classified",
            "LUISTER_TOPIC_DLQ": f"{p}.dlq",
            "LUISTER_TOPIC_ALERTS": f"{p}.alerts",
            "LUISTER_TOPIC_CUSTOMERS": f"{p}.customers",
            "LUISTER_TOPIC_ERASE": f"{p}.erase",
            "LUISTER_TOPIC_PARTITIONS": str(self.partitions),
            "LUISTER_ES_INDEX_PREFIX": f"luister-{p}",
            "LUISTER_ES_CUSTOMERS_INDEX": f"luister-{p}.customers",
            "LUISTER_ES_ALERTS_INDEX": f"luister-{p}.alerts",
            "LUISTER_WORKER_DATA_DIR": str(RUN_DIR / "faust" / self.tag),
            **self.extra,
        }

    @property
    def settings(self) -> Settings:
        return Settings(**{k.removeprefix("LUISTER_").lower(): v for k, v in self.env.items()
                           if k.startswith("LUISTER_")})

    def cleanup(self) -> None:
        """Remove this scenario's indices, topics and worker data (only what it created)."""
        from elasticsearch import Elasticsearch
        from kafka import KafkaAdminClient

        from tests.support import drop_index_family

        s = self.settings
        drop_index_family(s.es_url, s.es_index_prefix)
        es = Elasticsearch(s.es_url)
        for name in (s.es_customers_index, s.es_alerts_index):  # an alias (alerts) resolves to its indices
            found = es.options(ignore_status=404).indices.get(index=f"{name}*", expand_wildcards="all").body
            if found:
                es.indices.delete(index=",".join(found))
        admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="luister-bench")
        try:
            mine = [t for t in admin.list_topics() if t.startswith((self.prefix, f"luister-{self.prefix}"))]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()
        shutil.rmtree(RUN_DIR / "faust" / self.tag, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def machine_busy_seconds() -> tuple[float, float]:
    """(busy CPU seconds, total CPU seconds) of the whole machine so far, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def service_pids() -> dict[str, int]:
    """The shared Kafka and Elasticsearch processes (deploy/local/services.py pid files)."""
    run = Path(os.environ.get("LUISTER_SERVICES_DIR", PROJECT_ROOT / ".cache")) / "run"
    pids = {}
    for name in ("kafka", "elasticsearch"):
        try:
            pids[name] = int((run / f"{name}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            pass
    return pids


class CpuMeter:
    """Cores used by named processes (and by the whole machine) between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._t0 = 0.0
        self._cpu0: dict[str, float] = {}
        self._machine0 = (0.0, 0.0)
        self.cores: dict[str, float] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine0 = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        self.cores = {name: round((cpu_seconds(pid) - self._cpu0[name]) / wall, 2) for name, pid in self.pids.items()}
        busy, total = machine_busy_seconds()
        n_cpu = os.cpu_count() or 1
        self.cores["machine"] = round((busy - self._machine0[0]) / max(total - self._machine0[1], 1e-9) * n_cpu, 2)
        self.cores["other"] = round(self.cores["machine"] - sum(v for k, v in self.cores.items()
                                                                 if k not in ("machine",)), 2)
        return self.cores
