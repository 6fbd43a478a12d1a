"""Kill -9 a Faust worker mid-stream and restart it: every mention indexed exactly once,
nothing dead-lettered, and every customer's state equal to the fault-free state.

On the shared broker and node (only our own worker dies), with this module's topics,
consumer group and indices (tests/conftest.py `isolated_env`).
"""
from __future__ import annotations

import os
import signal

import pytest
from elasticsearch import Elasticsearch

from connectors.synthetic import generate
from core.kafka_admin import create_topics
from harness.wait import wait_for
from tests.test_faults_common import (
    BackgroundPublisher,
    assert_nothing_lost_after_the_fault,
    metric_value,
    safe_count,
    start_worker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

N = 600


def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(isolated_env, settings, tmp_path):
    create_topics(settings)
    es = Elasticsearch(settings.es_url, request_timeout=30)
    alias = settings.es_write_alias
    mentions = [g[0] for g in generate(N, seed=1010)]
    # a dead member leaves the group after the session timeout: keep that short so the restart rejoins fast
    env = {**os.environ, **isolated_env, "LUISTER_KAFKA_SESSION_TIMEOUT_SECONDS": "8"}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        publisher = BackgroundPublisher(settings.kafka_bootstrap, settings.topic_raw, mentions, rate_per_second=100)
        publisher.start()
        wait_for(lambda: safe_count(es, alias) >= N // 5, timeout=120, interval=0.2, what="the stream to be flowing")
        at_kill = safe_count(es, alias)
        worker.stop(signal.SIGKILL)
        assert not worker.alive()
        assert at_kill < N, "the kill must land mid-stream"

        worker.start(ready_timeout=180)  # same data dir: RocksDB + changelogs recover the tables
        rewritten = assert_nothing_lost_after_the_fault(es, settings, mentions, publisher, worker)
        replayed = metric_value(worker, "luister_stage_events_total", outcome="replayed")
        print(f"\nkilled at {at_kill}/{N} indexed; after the restart {rewritten} documents were written again "
              f"(replayed, same _id) and {replayed:.0f} mentions re-seen by the profile stage")
    finally:
        worker.stop()
