"""Stop Elasticsearch for 30 s mid-stream and start it again: every mention indexed exactly
once, customer state intact, the worker never restarted.

The node is our own (deploy/local/services.py on free ports under .cache/faults/): the
shared one on 9200 is never touched. Kafka is the shared broker, with this module's topics.
While the node is away the sink retries with backoff and the stream waits (backpressure):
nothing is dropped, nothing dead-lettered.
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

N = 900
OUTAGE_SECONDS = 30


@pytest.fixture(scope="module")
def node(services):
    yield from private_services("elasticsearch")


def test_elasticsearch_down_30s_mid_stream_loses_and_duplicates_nothing(node, isolated_env, settings, tmp_path):
    settings = settings.model_copy(update={"es_url": node.es_url})
    create_topics(settings)
    es = Elasticsearch(node.es_url, request_timeout=30)
    mentions = [g[0] for g in generate(N, seed=3030)]
    # retry every few seconds at most, so the sink notices the node is back soon after it is
    env = {**os.environ, **isolated_env, "LUISTER_ES_URL": node.es_url, "LUISTER_ES_RETRY_MAX_SECONDS": "4"}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        # paced so that mentions keep arriving before, during and after the outage
        publisher = BackgroundPublisher(settings.kafka_bootstrap, settings.topic_raw, mentions, rate_per_second=15)
        publisher.start()
        wait_for(lambda: safe_count(es, settings.es_write_alias) >= 100, timeout=120, interval=0.2,
                 what="the stream to be flowing")
        node.stop()
        stopped = time.monotonic()
        at_stop = safe_count(Elasticsearch(settings.es_url), settings.es_write_alias)  # -1: the node is gone
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        assert publisher.is_alive(), "mentions kept arriving during the whole outage"
        assert worker.alive(), "the worker waits for Elasticsearch, it does not die"
        restarted = time.monotonic()
        node.start()
        print(f"\nnode down {restarted - stopped:.0f}s, back up in {time.monotonic() - restarted:.0f}s")

        rewritten = assert_nothing_lost_after_the_fault(es, settings, mentions, publisher, worker)
        print(f"Elasticsearch down {OUTAGE_SECONDS}s mid-stream (probe while down: {at_stop}); "
              f"{rewritten} documents written again (same _id)")
    finally:
        worker.stop()
