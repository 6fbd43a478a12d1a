"""Helpers for end-to-end tests: a Faust worker process and waiting on real state."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    web_port: int
    proc: subprocess.Popen | None = field(default=None, init=False)

    def start(self, ready_timeout: float = 120) -> None:
        out = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "luister.cli", "worker", "-l", "info", "--web-port", str(self.web_port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, env=self.env,
            start_new_session=True,
        )
        start_size = self.log_path.stat().st_size if self.log_path.exists() else 0
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if b"Ready" in self.log_path.read_bytes()[start_size:]:
                return
            time.sleep(0.3)
        raise AssertionError(f"worker not ready in {ready_timeout}s:\n{self.log()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def free_port() -> int:
    """A TCP port nobody listens on right now (for a worker's web port or a private service)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(fn: Callable[[], T], *, timeout: float = 90, interval: float = 0.5, what: str = "condition") -> T:
    """Poll `fn` until it returns something truthy; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def drop_index_family(es_url: str, prefix: str) -> None:
    """Delete a test's indices and template (wildcard deletes are refused by default)."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(es_url)
    names = list(es.options(ignore_status=404).indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))
    es.options(ignore_status=404).indices.delete_index_template(name=prefix)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-v*")  # one per mapping version


def where_mentions_stopped(settings, missing_ids: set[str]) -> str:
    """For a failed end-to-end wait: on which pipeline topics each missing mention id appears,
    and how far the worker group committed on each partition. Kafka is the truth: this tells
    whether a mention was never produced to the next stage or produced and then skipped."""
    import json

    from kafka import KafkaConsumer, TopicPartition

    stages = [settings.topic_raw, settings.topic_normalized, settings.topic_enriched, settings.topic_classified,
              settings.topic_dlq]
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=3000, auto_offset_reset="earliest")
    # same group id, never subscribed: it only reads the group's committed offsets, it doesn't join
    group = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id,
                          enable_auto_commit=False)
    try:
        lines = []
        for topic in stages:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            if not tps:
                continue
            ends = consumer.end_offsets(tps)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            found: dict[str, list[str]] = {}
            for record in consumer:
                text = (record.value or b"").decode(errors="replace")
                for mention_id in missing_ids:
                    if f"\"{mention_id}\"" in text:
                        found.setdefault(mention_id, []).append(f"p{record.partition}@{record.offset}")
                if all(consumer.position(tp) >= ends[tp] for tp in tps):
                    break
            offsets = ", ".join(f"p{tp.partition}: committed {group.committed(tp)} / end {ends[tp]}" for tp in tps)
            lines.append(f"  {topic}: {json.dumps(found)}; {offsets}")
        return "Where the missing mentions are:\n" + "\n".join(lines)
    finally:
        consumer.close()
        group.close()
