"""Scale-out on the real broker: two Faust workers in one consumer group share topics of 4
partitions; one is killed (SIGKILL, no goodbye) mid-stream; the other takes over its partitions
and its table partitions, and every mention ends up indexed exactly once.

The table checked is the customer-state table (`customers`, pipeline/stages/customers.py): each customer's
profile in Elasticsearch counts that customer's mentions. A customer whose state was lost with
the killed worker would restart from 0 on the survivor and end below its true count.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter

import pytest
from elasticsearch import Elasticsearch

from connectors.publisher import MentionPublisher
from connectors.synthetic import generate
from core.settings import Settings
from harness.net import free_port
from harness.wait import wait_for
from harness.worker import WorkerProcess
from tests.support import where_mentions_stopped
from tests.test_ops_worker import scrape, value

pytestmark = pytest.mark.e2e

PARTITIONS = 4
N = 320
AUTHORS = 12  # few authors, many mentions each: per-customer state spans the kill
RATE = 40.0  # mentions per second: the stream lasts ~8 s, the kill lands in the middle

@pytest.fixture(scope="module")
def env(isolated_env) -> dict[str, str]:
    return {**isolated_env, "LUISTER_TOPIC_PARTITIONS": str(PARTITIONS), "LUISTER_CLASSIFIER": "baseline",
            # a killed worker leaves the group after this long; the default (30 s) would only slow the test
            "LUISTER_KAFKA_SESSION_TIMEOUT_SECONDS": "8", "LUISTER_METRICS_INTERVAL_SECONDS": "1"}


@pytest.fixture(scope="module")
def settings_4(env) -> Settings:
    return Settings(**{k.removeprefix("LUISTER_").lower(): v for k, v in env.items()})


@pytest.fixture(scope="module")
def workers(env, settings_4, tmp_path_factory):
    from core.kafka_admin import create_topics

    create_topics(settings_4)
    logs = tmp_path_factory.mktemp("scale-out")
    started = []
    try:
        for name in ("a", "b"):
            # own data dir each: RocksDB locks its files, as two pods' volumes would be separate
            w = WorkerProcess(env={**os.environ, **env, "LUISTER_WORKER_DATA_DIR": f"{env['LUISTER_WORKER_DATA_DIR']}/{name}"},
                       log_path=logs / f"worker-{name}.log", web_port=free_port())
            w.start()
            started.append(w)
        yield tuple(started)
    finally:
        for w in started:
            w.stop()


def _mentions():
    out = []
    for i, (mention, _label) in enumerate(generate(N, seed=11)):
        author = mention.author.model_copy(update={"handle": f"scaleout_{i % AUTHORS}"})
        out.append(mention.model_copy(update={"author": author}))
    return out


def _recovery_trouble(worker: WorkerProcess) -> str:
    """What the survivor's log says about table recovery, if it went wrong (it then processes nothing)."""
    log = worker.log_path.read_text(errors="replace")
    errors = re.findall(r"Error in recovery (.*)", log)
    stuck = sorted(set(re.findall(r"No event received for active tp TopicPartition\(topic='([^']+)'", log)))
    if not errors and not stuck:
        return ""
    return (f"Table recovery failed on the survivor: {len(errors)} changelog record(s) could not be read "
            f"({errors[0] if errors else '-'}); stuck changelogs: {stuck}. ")


def _owned(worker: WorkerProcess, topic: str) -> int:
    return int(value(scrape(worker), "luister_assigned_partitions", topic=topic))


def _index_stats(es: Elasticsearch, alias: str) -> tuple[int, set[str], int]:
    """(documents, their ids, how many were written more than once: replays after the kill)."""
    if not es.indices.exists_alias(name=alias):
        return 0, set(), 0
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10_000, version=True, source=False, query={"match_all": {}})["hits"]["hits"]
    return len(hits), {h["_id"] for h in hits}, sum(1 for h in hits if h["_version"] > 1)


def test_survivor_takes_over_partitions_and_tables_and_every_mention_is_indexed_once(workers, settings_4):
    a, b = workers
    raw = settings_4.topic_raw
    es = Elasticsearch(settings_4.es_url)
    alias = settings_4.es_write_alias

    # both workers own part of every input topic
    wait_for(lambda: _owned(a, raw) > 0 and _owned(b, raw) > 0 and _owned(a, raw) + _owned(b, raw) == PARTITIONS,
             timeout=90, what="the two workers to share the raw topic's partitions")
    before = (_owned(a, raw), _owned(b, raw))

    mentions = _mentions()
    expected_per_customer = Counter(m.customer_key for m in mentions)
    with MentionPublisher(settings_4.kafka_bootstrap, raw) as publisher:
        def publish() -> None:
            started = time.monotonic()
            for n, m in enumerate(mentions):
                time.sleep(max(0.0, started + n / RATE - time.monotonic()))
                publisher.publish(m)
        sender = threading.Thread(target=publish)
        sender.start()
        # mid-stream: both have indexed some, more is coming; then B dies without a goodbye
        wait_for(lambda: value(scrape(b), "luister_stage_events_total", stage="index", outcome="ok") > 0
                 and _index_stats(es, alias)[0] >= N // 5, timeout=60, interval=0.2, what="both workers at work")
        b_indexed = value(scrape(b), "luister_stage_events_total", stage="index", outcome="ok")
        b.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        at_kill = _index_stats(es, alias)[0]
        sender.join()
    assert not b.alive() and at_kill < N, f"the kill must land mid-stream ({at_kill} of {N} indexed)"

    # the survivor owns every partition
    wait_for(lambda: _owned(a, raw) == PARTITIONS, timeout=90, what="worker a to own all partitions")
    takeover_s = time.monotonic() - killed_at

    # every mention indexed exactly once: one document per id, no more, no fewer
    try:
        count, ids, rewritten = wait_for(lambda: (s := _index_stats(es, alias))[0] >= N and s, timeout=120,
                                         what=f"{N} documents")
    except AssertionError as exc:
        missing = {m.id for m in mentions} - _index_stats(es, alias)[1]
        raise AssertionError(f"{exc}; {N - len(missing)} indexed. {_recovery_trouble(a)}"
                             f"{where_mentions_stopped(settings_4, missing)}\n"
                             f"Survivor's log:\n{a.log()}") from None
    assert count == N and ids == {m.id for m in mentions}

    # the table's state moved too: every customer's profile counts all its mentions, before and after the kill
    def profiles() -> dict[str, int]:
        index = settings_4.es_customers_index
        if not es.indices.exists(index=index):
            return {}
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=1000, source=["mentions"], query={"match_all": {}})["hits"]["hits"]
        return {h["_id"]: h["_source"]["mentions"] for h in hits}

    final = wait_for(lambda: (p := profiles()) == dict(expected_per_customer) and p, timeout=90,
                     what=f"customer profiles counting {dict(expected_per_customer)} (last seen {profiles()})")
    assert sum(final.values()) == N
    series = wait_for(lambda: (s := scrape(a)) and value(s, "luister_table_keys", table="customers") ==
                      len(expected_per_customer) and s, timeout=30, what="the survivor to hold every customer key")
    assert value(series, "luister_rebalances_total") >= 2  # b joining, b leaving
    # no partition was read past records that nobody processed (pipeline/consumer.py)
    assert value(series, "luister_offset_jumps_total", outcome="deleted") == 0
    assert value(series, "luister_offset_jumps_total", outcome="gave_up") == 0
    jumps = value(series, "luister_offset_jumps_total", outcome="sought_back")
    assert a.log_path.read_text(errors="replace").count("Executing _on_partitions_assigned") >= 3
    print(f"\nscale-out: partitions before kill a={before[0]} b={before[1]}; b indexed {b_indexed:.0f} before the "
          f"kill; {at_kill}/{N} indexed at the kill; takeover {takeover_s:.1f}s after SIGKILL; "
          f"{rewritten} documents re-written by replays; {jumps:.0f} stale offset jumps sought back; "
          f"{len(final)} customers, state intact")
