"""End to end on the real broker and node: connector -> Kafka -> Faust -> Elasticsearch."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from elasticsearch import Elasticsearch

from connectors.publisher import MentionPublisher
from connectors.synthetic import generate
from core.kafka_admin import end_offsets, read_from
from harness.wait import wait_for
from schemas import MAX_RECORD_BYTES, ClassifiedMention, DeadLetter, DeadLetterReason

pytestmark = pytest.mark.e2e

N = 120


@pytest.fixture(scope="module")
def es(settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url)


@pytest.fixture(scope="module")
def mentions():
    return [m for m, _label in generate(N, seed=42)]


def _count(es: Elasticsearch, index: str, query: dict | None = None) -> int:
    es.indices.refresh(index=index)
    return es.count(index=index, query=query or {"match_all": {}})["count"]


def _publish(settings, mentions) -> None:
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as pub:
        for m in mentions:
            pub.publish(m)


def test_n_published_gives_n_documents_with_fields_then_replay_stays_n(worker, settings, es, mentions):
    alias = settings.es_write_alias
    _publish(settings, mentions)
    wait_for(lambda: es.indices.exists_alias(name=alias) and _count(es, alias) == N, timeout=120,
             what=f"{N} documents in {alias}")

    by_id = {m.id: m for m in mentions}
    hits = es.search(index=alias, size=N, query={"match_all": {}})["hits"]["hits"]
    assert {h["_id"] for h in hits} == set(by_id)
    for hit in hits:
        doc = hit["_source"]
        original = by_id[hit["_id"]]
        assert doc["text"] == original.text and doc["brand"] == original.brand
        assert doc["author"]["handle"] == original.author.handle
        assert doc["type"] in {"complaint", "question", "suggestion", "compliment", "other"}
        assert doc["sentiment"] in {"negative", "neutral", "positive"}
        assert doc["customer_id"] == original.customer_key
        assert doc["model_version"] == "baseline-lexicon-1"
        assert doc["pipeline_latency_ms"] >= 0 and doc["indexed_at"] >= doc["processed_at"]
        ClassifiedMention.model_validate_json(json.dumps({k: v for k, v in doc.items() if k != "indexed_at"}))
    types = {h["_source"]["type"] for h in hits}
    assert len(types) >= 3, f"a realistic sample should get several types, got {types}"

    # the Dutch/English multi-fields stem: a Dutch plural finds its singular
    plural_hits = es.search(index=alias, query={"match": {"text.nl": "klachten"}}, size=0)["hits"]["total"]["value"]
    singular_hits = es.search(index=alias, query={"match": {"text.nl": "klacht"}}, size=0)["hits"]["total"]["value"]
    assert plural_hits == singular_hits

    # replay the same N: every document is overwritten in place, none added
    replay_started = datetime.now(timezone.utc)
    _publish(settings, mentions)
    wait_for(lambda: _count(es, alias, {"range": {"ingested_at": {"gte": replay_started.isoformat()}}}) == N,
             timeout=120, what="the replay to be re-indexed")
    assert _count(es, alias) == N


def test_malformed_input_goes_to_dlq_with_reason_and_worker_keeps_going(worker, settings, es, mentions):
    alias = settings.es_write_alias
    dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)
    good = [m.model_copy(update={"id": f"{m.id}-after-bad"}) for m in mentions[:5]]
    valid = json.loads(good[0].model_dump_json())
    bad_records = {
        DeadLetterReason.malformed_json: b'{"id": "twitter:1", "text": ',
        DeadLetterReason.undecodable: b'{"id": "twitter:\xff\xfe"}',
        DeadLetterReason.oversized: b"x" * (MAX_RECORD_BYTES + 1),
        DeadLetterReason.schema_violation: json.dumps({**valid, "source": "carrier-pigeon"}).encode(),
    }
    too_long_text = json.dumps({**valid, "id": "twitter:too-long", "text": "a" * 10_001}).encode()
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as pub:
        for value in bad_records.values():
            pub.publish_bytes(value)
        pub.publish_bytes(too_long_text)
        for m in good:
            pub.publish(m)

    def dead_letters() -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v) for v in read_from(settings.kafka_bootstrap, settings.topic_dlq,
                                                                     dlq_start)]

    wait_for(lambda: len(dead_letters()) >= 5, timeout=90, interval=1, what="5 dead letters")
    time.sleep(1)  # a sixth (wrong) dead letter would show up here
    letters = dead_letters()
    assert len(letters) == 5, [(d.reason, d.detail) for d in letters]
    by_original = {d.original(): d for d in letters}
    for reason, value in bad_records.items():
        assert by_original[value].reason == reason, by_original[value].detail
        assert by_original[value].stage == "normalize" and by_original[value].detail
        assert by_original[value].topic == settings.topic_raw and by_original[value].offset is not None
    assert by_original[too_long_text].reason == DeadLetterReason.oversized
    assert "source" in by_original[bad_records[DeadLetterReason.schema_violation]].detail

    # the worker survived and indexed the valid mentions sent after the bad ones
    wait_for(lambda: _count(es, alias, {"ids": {"values": [m.id for m in good]}}) == len(good), timeout=90,
             what="the valid mentions after the bad ones")
    assert worker.alive()
