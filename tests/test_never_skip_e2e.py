"""An exception on one record, in any stage, dead-letters that record and nothing else: the rest of
its batch goes on, the worker stays up and nothing stalls (on the real broker and node, with the
test-only fault hook of pipeline/faults.py)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from connectors.publisher import MentionPublisher
from connectors.synthetic import generate
from core.kafka_admin import create_topics, end_offsets, read_from
from harness.net import free_port
from harness.wait import wait_for
from harness.worker import WorkerProcess
from pipeline.faults import InjectedFault, describe

pytestmark = pytest.mark.e2e

N = 60
STAGES = ("normalize", "classify", "profile", "index", "crisis")
MENTIONS = [m for m, _ in generate(N, seed=91)]
POISONED = {stage: MENTIONS[7 + 9 * i].id for i, stage in enumerate(STAGES)}  # spread over the batch


@pytest.fixture(scope="module")
def faulty_worker(isolated_env, settings, tmp_path_factory) -> Iterator[WorkerProcess]:
    create_topics(settings)
    env = {**os.environ, **isolated_env, "LUISTER_ALLOW_FAULT_INJECTION": "1",
           "LUISTER_FAULT_INJECT": ",".join(f"{stage}:{mention_id}" for stage, mention_id in POISONED.items())}
    worker = WorkerProcess(env=env, log_path=tmp_path_factory.mktemp("faulty") / "worker.log", web_port=free_port())
    worker.start()
    yield worker
    worker.stop()


def test_one_poisoned_record_per_stage_goes_to_the_dlq_and_nothing_else_is_lost(faulty_worker, settings, es):
    dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
        for mention in MENTIONS:
            publisher.publish(mention)
    # the crisis stage's poisoned mention was indexed before it reached crisis detection
    expected = {m.id for m in MENTIONS} - {mention_id for stage, mention_id in POISONED.items() if stage != "crisis"}

    def indexed() -> set[str]:
        es.indices.refresh(index=settings.es_write_alias)
        hits = es.search(index=settings.es_write_alias, size=N + 10, source=False)["hits"]["hits"]
        return {h["_id"] for h in hits}

    wait_for(lambda: indexed() == expected, timeout=180, what=f"{len(expected)} mentions indexed")
    letters = wait_for(lambda: (found := [json.loads(v) for v in read_from(
        settings.kafka_bootstrap, settings.topic_dlq, dlq_start, timeout_s=5)]) and len(found) >= len(STAGES)
        and found, timeout=120, what="a dead letter per stage")
    by_stage = {letter["stage"]: letter for letter in letters}
    assert len(letters) == len(STAGES) and set(by_stage) == set(STAGES), [(x["stage"], x["mention_id"]) for x in letters]
    for stage, mention_id in POISONED.items():
        letter = by_stage[stage]
        assert letter["mention_id"] == mention_id and letter["reason"] == "processing_error"
        assert "InjectedFault" in letter["detail"] and "Traceback" in letter["detail"]  # the error and where
    assert faulty_worker.alive()
    es.indices.refresh(index=settings.es_write_alias)
    assert es.count(index=settings.es_write_alias)["count"] == len(expected)  # each once, none twice


def test_the_hook_is_refused_without_the_test_only_switch():
    import subprocess
    import sys

    env = {**os.environ, "LUISTER_FAULT_INJECT": "index:twitter:1"}
    env.pop("LUISTER_ALLOW_FAULT_INJECTION", None)
    out = subprocess.run([sys.executable, "-c", "import pipeline.faults"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "for tests only" in out.stderr


def test_describe_keeps_the_error_and_its_frames():
    try:
        raise InjectedFault("boom")
    except InjectedFault as exc:
        text = describe(exc)
    assert text.startswith("InjectedFault('boom')") and "Traceback (most recent call last)" in text
