"""Restart the Kafka broker mid-stream: every mention indexed exactly once, customer state intact.

The broker is our own (deploy/local/services.py on free ports under .cache/faults/): the
shared one on 9092 is never touched. Elasticsearch is the shared node, with this module's
indices. The publisher keeps sending through the outage (its idempotent producer retries);
the worker rides it out without a restart.
"""
from __future__ import annotations

import os
import time

import pytest
from elasticsearch import Elasticsearch

from connectors.synthetic import generate
from core.kafka_admin import create_topics
from harness.wait import wait_for
from tests.test_faults_common import (
    BackgroundPublisher,
    assert_nothing_lost_after_the_fault,
    private_services,
    safe_count,
    start_worker,
)

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

N = 600
DOWN_SECONDS = 5


@pytest.fixture(scope="module")
def kafka(services):
    yield from private_services("kafka")


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(kafka, isolated_env, settings, tmp_path):
    settings = settings.model_copy(update={"kafka_bootstrap": kafka.kafka_bootstrap})
    create_topics(settings)
    es = Elasticsearch(settings.es_url, request_timeout=30)
    mentions = [g[0] for g in generate(N, seed=2020)]
    env = {**os.environ, **isolated_env, "LUISTER_KAFKA_BOOTSTRAP": kafka.kafka_bootstrap}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        publisher = BackgroundPublisher(kafka.kafka_bootstrap, settings.topic_raw, mentions, rate_per_second=60)
        publisher.start()
        wait_for(lambda: safe_count(es, settings.es_write_alias) >= N // 5, timeout=120, interval=0.2,
                 what="the stream to be flowing")
        kafka.stop()
        at_stop = safe_count(es, settings.es_write_alias)
        time.sleep(DOWN_SECONDS)
        kafka.start()
        assert at_stop < N, "the restart must land mid-stream"

        rewritten = assert_nothing_lost_after_the_fault(es, settings, mentions, publisher, worker)
        print(f"\nbroker stopped at {at_stop}/{N} indexed, down {DOWN_SECONDS}s + restart; "
              f"{rewritten} documents written again (same _id)")
    finally:
        worker.stop()
