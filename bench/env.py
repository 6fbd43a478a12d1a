"""Isolation and measurement helpers for the benchmarks.

Each scenario gets its own topics, consumer group, indices and worker data dir on the
shared local services (like tests/conftest.py `isolated_env`), and removes them after.
Per-process CPU time and peak RSS come from /proc.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from core.paths import PROJECT_ROOT
from core.settings import Settings
from harness.isolation import drop_isolated, isolated_env, settings_from_env

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
        return {**isolated_env(self.prefix, partitions=self.partitions, data_dir=RUN_DIR / "faust" / self.tag,
                               raw_topic=self.raw_topic), **self.extra}

    @property
    def settings(self) -> Settings:
        return settings_from_env(self.env)

    def cleanup(self) -> None:
        """Remove this scenario's indices, topics and worker data (only what it created)."""
        drop_isolated(self.env, (self.prefix, f"luister-{self.prefix}"))


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
