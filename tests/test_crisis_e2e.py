"""End to end on the real broker and node: a synthetic stream with a negative burst, replayed as fast as
the worker goes, opens exactly one negative_surge within 30 s of stream time, updates it while the
burst grows, resolves it afterwards, and every alert version lands in the alerts index.

The stream is classified here with the pipeline's own classifier and published to the classified
topic, where crisis detection starts: the stages before it have their own end-to-end tests."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch

from connectors.synthetic import DEFAULT_START, BurstSpec, generate
from harness.isolation import settings_from_env
from harness.wait import wait_for
from pipeline.crisis.simulate import classify
from schemas import Alert, AlertKind, AlertStatus
from tests.crisis_support import alerts_on_topic, crisis_env, crisis_page, publish_classified

pytestmark = pytest.mark.e2e

BURST = BurstSpec("Belnet", start_offset=timedelta(minutes=60), duration=timedelta(minutes=10), rate_per_minute=40.0,
                  topic="storing")
BURST_START = DEFAULT_START + BURST.start_offset
BURST_END = BURST_START + BURST.duration
COUNT = 30 * 100 + 400  # ~100 minutes of stream at 30/min plus the burst


@pytest.fixture(scope="module")
def isolated_env(isolated_env):
    yield from crisis_env(isolated_env)


@pytest.fixture(scope="module")
def settings(isolated_env):
    return settings_from_env(isolated_env)


_alerts = alerts_on_topic


def test_burst_opens_one_surge_within_30s_updates_and_resolves(worker, settings):
    mentions = classify([m for m, _ in generate(COUNT, seed=11, rate_per_minute=30.0, burst=BURST)])
    assert mentions[-1].created_at > BURST_END + timedelta(minutes=20)
    publish_classified(settings, mentions)

    def resolved_surge() -> list[Alert]:
        alerts = _alerts(settings)
        done = [a for a in alerts if a.kind is AlertKind.negative_surge and a.status is AlertStatus.resolved]
        return alerts if done else []

    try:
        alerts = wait_for(resolved_surge, timeout=150, interval=2, what="a resolved negative_surge alert")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log()}") from None
    surges = [a for a in alerts if a.kind is AlertKind.negative_surge]
    opens = [a for a in surges if a.status is AlertStatus.open]
    assert len(opens) == 1, "\n".join(f"{a.status.value} {a.opened_at:%H:%M:%S} {a.updated_at:%H:%M:%S} {a.summary}"
                                      for a in surges)
    opened = opens[0]
    assert opened.brand == "Belnet" and opened.topic == "storing", opened
    delay = (opened.opened_at - BURST_START).total_seconds()
    assert 0 <= delay <= 30, (delay, opened.evidence.get("late_mentions"), opened.evidence.get("max_lag_seconds"))
    print(f"\ndetection delay (stream time): {delay:.1f}s; max lag {opened.evidence['max_lag_seconds']}s; "
          f"summary: {opened.summary}")

    versions = sorted((a for a in surges if a.id == opened.id), key=lambda a: a.sequence)
    assert [a.sequence for a in versions] == list(range(len(versions)))  # no gap, no duplicate
    updates = [a for a in versions if a.status is AlertStatus.update]
    assert updates, "the alert should update while the burst grows"
    assert all(BURST_START <= a.updated_at <= BURST_END for a in updates)
    assert updates[-1].evidence["peak_negative"] > opened.evidence["peak_negative"]
    resolved = versions[-1]
    assert resolved.status is AlertStatus.resolved and resolved.resolved_at is not None
    assert BURST_END < resolved.resolved_at < BURST_END + timedelta(minutes=20)
    assert {a.id for a in surges} == {opened.id}  # one episode, nothing for the other brands

    evidence = opened.evidence
    assert evidence["signal"]["negative"] >= 6 and evidence["signal"]["expected_negative"] > 0
    assert evidence["examples"] and all(e["id"] in opened.mention_ids for e in evidence["examples"])
    assert evidence["links"] and all(link.startswith("https://") for link in evidence["links"])

    # the windows live in the worker's table: its /crisis page shows them by unit and sentiment, with the
    # token only (it shows example mentions)
    assert crisis_page(worker.web_port, "Belnet", token=None)[0] == 401
    assert crisis_page(worker.web_port, "Belnet", token="wrong-token")[0] == 401
    status, snap = crisis_page(worker.web_port, "Belnet")
    assert status == 200
    assert snap["stream_time"] > BURST_END.isoformat() and snap["late_mentions"] == 0
    assert {"*", "storing"} <= set(snap["units"])
    assert set(snap["units"]["*"]["hop_window"]) == {"negative", "neutral", "positive"}
    assert snap["units"]["*"]["baseline_source"] in ("level", "seasonal")

    # every version is in the alerts index, _id = id#version
    es = Elasticsearch(settings.es_url)

    def indexed() -> set[str]:
        if not es.indices.exists_alias(name=settings.es_alerts_index):
            return set()
        es.indices.refresh(index=settings.es_alerts_index)
        hits = es.search(index=settings.es_alerts_index, size=100, query={"term": {"id": opened.id}})["hits"]["hits"]
        return {h["_id"] for h in hits}

    wanted = {a.version_id for a in versions}
    wait_for(lambda: indexed() >= wanted, timeout=60, what="the alert versions in the alerts index")
    doc = es.get(index=settings.es_alerts_index, id=opened.version_id)["_source"]
    assert doc["status"] == "open" and doc["brand"] == "Belnet" and json.dumps(doc["evidence"])

    # a restart on an empty disk recovers the windows and baselines from the table's changelog;
    # compare against the state once the worker has consumed everything (two equal reads in a row)
    def page() -> dict:
        return crisis_page(worker.web_port, "Belnet")[1]

    def settled() -> dict | None:
        first = page()
        time.sleep(2)
        return first if page() == first else None

    snap = wait_for(settled, timeout=60, interval=0, what="the crisis state to stop changing")
    worker.stop()
    worker.env["LUISTER_WORKER_DATA_DIR"] += "-after-restart"
    worker.start()
    assert page() == snap


def test_by_brand_records_carry_the_time_they_were_written_so_retention_keeps_a_replay(worker, settings):
    """The stream above is weeks old by created_at. Kafka's retention deletes records by their
    timestamp: had the re-keyed records carried created_at, a replay older than retention.ms could
    be deleted before the detector read it."""
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.crisis.topic_by_brand or f"{settings.topic_classified.rpartition('.')[0]}.by_brand"
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, consumer_timeout_ms=5000)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        assert tps, f"no topic {topic}"
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        stamps = [record.timestamp / 1000 for _, record in zip(range(200), consumer)]
    finally:
        consumer.close()
    assert len(stamps) == 200
    assert DEFAULT_START.timestamp() < time.time() - 7 * 24 * 3600  # the replayed mentions are old...
    assert min(stamps) > time.time() - 3600  # ...their re-keyed records are not
