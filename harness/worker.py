"""A Faust worker of the pipeline in its own process (`luister worker`), as an operator runs it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.paths import PROJECT_ROOT


@dataclass
class WorkerProcess:
    """`env` is the whole environment of the process (settings travel as LUISTER_* variables);
    `web_port`: its /metrics, /healthz and /readyz port (None: the setting's)."""

    env: dict[str, str]
    log_path: Path
    web_port: int | None = None
    proc: subprocess.Popen | None = field(default=None, init=False)

    def start(self, ready_timeout: float = 120) -> None:
        """Start and wait until Faust says the worker is ready; raise with the log's tail if not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        port = ["--web-port", str(self.web_port)] if self.web_port else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "luister.cli", "worker", "-l", "info", *port],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT, env=self.env,
            start_new_session=True,
        )
        start_size = self.log_path.stat().st_size if self.log_path.exists() else 0
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if b"Ready" in self.log_path.read_bytes()[start_size:]:
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"worker not ready in {ready_timeout}s:\n{self.log()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the worker's process group; SIGKILL it if it has not stopped within a minute."""
        if self.alive():
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]
