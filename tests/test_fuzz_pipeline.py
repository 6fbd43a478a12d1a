"""Hostile payloads through the real raw topic and a real worker: each ends indexed (if
valid) or in the dead-letter topic with a reason; the worker stays up; nothing valid is lost.

The ≥ 10,000-payload run is in-process (tests/test_fuzz_normalize.py); here a few hundred
of the same payloads, plus a handful of the nastiest on purpose (about 1 MB, deep JSON,
invalid UTF-8), take the whole path: kafka-python → Kafka → Faust → Elasticsearch / DLQ.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from elasticsearch import Elasticsearch
from hypothesis import Phase, given
from hypothesis import settings as hsettings

from connectors.publisher import MentionPublisher
from core.kafka_admin import end_offsets, read_from
from harness.wait import wait_for
from pipeline.normalize import normalize
from schemas import DeadLetter, RawMention
from schemas.dead_letter import MAX_ORIGINAL_BYTES
from tests.test_faults_common import indexed_versions
from tests.test_fuzz_normalize import FUZZ_SETTINGS, VALID, Payload, payloads

pytestmark = pytest.mark.e2e

N_GENERATED = 300


def _draw(n: int) -> list[Payload]:
    drawn: list[Payload] = []

    @hsettings(max_examples=n, derandomize=True, **{**FUZZ_SETTINGS, "phases": [Phase.generate]})
    @given(payload=payloads())
    def collect(payload: Payload) -> None:
        drawn.append(payload)

    collect()
    return drawn


def _nasty() -> list[bytes]:
    base = dict(VALID[0])
    return [
        json.dumps({**base, "text": "z" * 1_000_000}).encode(),  # ~1 MB: past the record limit
        b"[" * 50_000 + b"]" * 50_000,  # deep JSON
        json.dumps({**base, "raw": "@@"}).replace('"@@"', '{"a":' * 5_000 + "1" + "}" * 5_000).encode(),
        json.dumps(base).encode()[:-40] + b"\xff\xfe\xed\xa0\x80" + json.dumps(base).encode()[-40:],
        json.dumps({**base, "id": "webhook:fuzz-nasty-script", "text": "</script><script>alert(1)</script>"}).encode(),
    ]


def test_hostile_payloads_end_indexed_or_dead_lettered_and_the_worker_lives(worker, settings):
    es = Elasticsearch(settings.es_url, request_timeout=60)
    values = [p.value for p in _draw(N_GENERATED)] + _nasty()
    now = datetime.now(timezone.utc)
    verdicts = [normalize(v, received_at=now) for v in values]  # the pure stage is the oracle
    valid_ids = {v.id for v in verdicts if isinstance(v, RawMention)}
    invalid = [v for v, verdict in zip(values, verdicts) if isinstance(verdict, DeadLetter)]
    # and a few ordinary mentions after all that: the stream must still flow
    after = [RawMention.model_validate_json(json.dumps({**VALID[i], "id": f"webhook:fuzz-after-{i}"})) for i in range(5)]

    dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
        for value in values:
            publisher.publish_bytes(value)
        for mention in after:
            publisher.publish(mention)
    expected_ids = valid_ids | {m.id for m in after}

    def letters() -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v)
                for v in read_from(settings.kafka_bootstrap, settings.topic_dlq, dlq_start, timeout_s=20)]

    def indexed() -> set[str]:
        return {doc_id for doc_id, _ in indexed_versions(es, settings.es_write_alias)}

    def settled():
        got, dead = indexed(), letters()
        late = {d.mention_id for d in dead if d.stage != "normalize"}
        return (got, dead) if expected_ids <= got | late and len(dead) >= len(invalid) else None

    got, dead = wait_for(settled, timeout=180, interval=2, what=f"{len(expected_ids)} indexed and "
                                                                 f"{len(invalid)} dead-lettered")
    at_normalize = [d for d in dead if d.stage == "normalize"]
    later = [d for d in dead if d.stage != "normalize"]
    print(f"\n{len(values)} hostile payloads + {len(after)} ordinary: {len(valid_ids)} valid ids indexed "
          f"{len(valid_ids & got)}, dead-lettered at normalize {len(at_normalize)}, later {len(later)}")
    # each bad payload once, its bytes kept (the first MAX_ORIGINAL_BYTES of a huge one, with its size)
    assert sorted((d.original(), d.original_size) for d in at_normalize) == sorted(
        (v[:MAX_ORIGINAL_BYTES], len(v)) for v in invalid)
    assert all(d.reason and d.detail for d in dead), "every dead letter says why"
    assert not later, [(d.stage, d.reason, d.detail[:200]) for d in later]
    assert expected_ids <= got, f"valid mentions lost: {sorted(expected_ids - got)[:5]}"
    assert got <= expected_ids, "nothing but the valid ones indexed"
    assert worker.alive(), "no worker died"
