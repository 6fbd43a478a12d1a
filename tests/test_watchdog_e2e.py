"""A stage stuck on one record (the test-only stall hook) is reported on the real broker: the
partitions with lag and no progress show in the metric, a log line names them and /readyz fails."""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from connectors.publisher import MentionPublisher
from connectors.synthetic import generate
from core.kafka_admin import create_topics
from harness.net import free_port
from harness.wait import wait_for
from harness.worker import WorkerProcess

pytestmark = pytest.mark.e2e

MENTIONS = [m for m, _ in generate(30, seed=5)]
STUCK = MENTIONS[3].id


@pytest.fixture(scope="module")
def stuck_worker(isolated_env, settings, tmp_path_factory) -> Iterator[WorkerProcess]:
    create_topics(settings)
    env = {**os.environ, **isolated_env, "LUISTER_ALLOW_FAULT_INJECTION": "1",
           "LUISTER_FAULT_STALL": f"normalize:{STUCK}", "LUISTER_STALL_AFTER_SECONDS": "4",
           "LUISTER_METRICS_INTERVAL_SECONDS": "1"}
    worker = WorkerProcess(env=env, log_path=tmp_path_factory.mktemp("stuck") / "worker.log", web_port=free_port())
    worker.start()
    yield worker
    worker.stop()


def _readyz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _stalled(port: int, topic: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    pattern = rf'luister_partition_stalled_seconds\{{partition="(\d+)",topic="{re.escape(topic)}"\}} (\S+)'
    return {p: float(v) for p, v in re.findall(pattern, text)}


def test_a_stuck_stage_is_a_metric_a_log_line_and_a_failing_readyz(stuck_worker, settings):
    wait_for(lambda: _readyz(stuck_worker.web_port)[0] == 200, timeout=60, what="the worker ready first")
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
        for mention in MENTIONS:
            publisher.publish(mention)
    status, body = wait_for(lambda: (r := _readyz(stuck_worker.web_port))[0] == 503 and r, timeout=90,
                            what="/readyz to report the stall")
    assert "no progress for 4s on" in body["reason"] and settings.topic_raw in body["reason"]
    stalled = wait_for(lambda: {p: s for p, s in _stalled(stuck_worker.web_port, settings.topic_raw).items() if s > 0},
                       timeout=30, what="the stalled-seconds metric")
    assert all(seconds >= 4 for seconds in stalled.values())
    log = stuck_worker.log_path.read_text(errors="replace")
    assert "partition stalled: lag and no progress" in log and f"topic={settings.topic_raw}" in log
    assert stuck_worker.alive()
