"""Helpers shared by the fault-tolerance tests (tests/test_faults_*.py); no tests here.

* `PrivateServices`: a Kafka broker or Elasticsearch node of our own, started with the
  project's deploy/local/services.py on other ports and folders, so a test may stop and
  restart it without touching the shared services on 9092/9200.
* publishing a paced stream in the background, reading back what got indexed;
* `expected_profiles`: the customer state the pipeline *should* end with, folded purely
  from the same mentions by the same stage functions, for "customer state intact".
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from elasticsearch import Elasticsearch

from connectors.base import Connector, PublishStats
from connectors.publisher import MentionPublisher
from core.settings import Settings
from harness.net import free_port
from harness.wait import wait_for
from harness.worker import WorkerProcess
from schemas import RawMention

ROOT = Path(__file__).resolve().parent.parent
SERVICES = [sys.executable, str(ROOT / "deploy" / "local" / "services.py")]
# Persistent between runs (git-ignored .cache/): unpacking Elasticsearch and building its
# analysis plugin happen once; data and logs are wiped at every start.
FAULTS_DIR = ROOT / ".cache" / "faults"

@dataclass
class PrivateServices:
    """Our own Kafka or Elasticsearch (`only`), on free ports, under `FAULTS_DIR/<name>`
    (one folder for both, so the distributions are unpacked once)."""

    only: str  # "kafka" or "elasticsearch"
    name: str = "services"
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for var in ("LUISTER_KAFKA_PORT", "LUISTER_KAFKA_CONTROLLER_PORT", "LUISTER_ES_PORT",
                    "LUISTER_ES_TRANSPORT_PORT"):
            self.ports.setdefault(var, free_port())

    @property
    def base(self) -> Path:
        return FAULTS_DIR / self.name

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "LUISTER_SERVICES_DIR": str(self.base), "LUISTER_ES_HEAP": "512m",
                "LUISTER_KAFKA_HEAP": "256m", "LUISTER_SERVICES_TIMEOUT": "180",
                **{k: str(v) for k, v in self.ports.items()}}

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['LUISTER_KAFKA_PORT']}"

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['LUISTER_ES_PORT']}"

    def _run(self, verb: str) -> None:
        result = subprocess.run([*SERVICES, verb, "--only", self.only], env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(f"services.py {verb} --only {self.only} failed:\n{result.stdout}\n{result.stderr}")

    def fresh_start(self) -> None:
        """Start on empty data (a previous run's broker or node state must not leak in)."""
        self._run("down")  # a run killed half-way may have left ours running
        if self.only == "kafka":
            leftovers = [self.base / "data" / "kafka", self.base / "logs" / "kafka-server.log"]
        else:
            leftovers = [self.base / "data" / "elasticsearch", self.base / "logs" / "elasticsearch"]
        for path in leftovers:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        self._run("up")

    def start(self) -> None:
        self._run("up")

    def stop(self) -> None:
        self._run("down")


def private_services(only: str) -> Iterator[PrivateServices]:
    """A module fixture's body: our own broker or node on fresh data, stopped afterwards."""
    services = PrivateServices(only)
    services.fresh_start()
    try:
        yield services
    finally:
        services.stop()


class ListConnector(Connector):
    name = "fault-test"

    def __init__(self, mentions: Sequence[RawMention]):
        self.mentions = mentions

    def records(self) -> Iterator[RawMention]:
        yield from self.mentions


class BackgroundPublisher(threading.Thread):
    """Publish mentions at a steady rate while the test breaks things; `join()` re-raises."""

    def __init__(self, bootstrap: str, topic: str, mentions: Sequence[RawMention], rate_per_second: float):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.mentions, self.rate = bootstrap, topic, mentions, rate_per_second
        self.stats: PublishStats | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with MentionPublisher(self.bootstrap, self.topic) as publisher:
                self.stats = ListConnector(self.mentions).run(publisher, rate_per_second=self.rate)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def finish(self, timeout: float = 240) -> PublishStats:
        self.join(timeout)
        assert not self.is_alive(), "the publisher did not finish"
        if self.error is not None:
            raise self.error
        assert self.stats is not None
        return self.stats


def indexed_versions(es: Elasticsearch, index: str) -> list[tuple[str, int]]:
    """`(_id, _version)` of every document under `index` (an alias over monthly indices),
    repeats included. A `_version` above 1 is a document written again (a replay)."""
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    found: list[tuple[str, int]] = []
    resp = es.search(index=index, size=5000, source=False, version=True, sort=["_doc"], scroll="1m",
                     query={"match_all": {}})
    try:
        while resp["hits"]["hits"]:
            found.extend((h["_id"], h["_version"]) for h in resp["hits"]["hits"])
            resp = es.scroll(scroll_id=resp["_scroll_id"], scroll="1m")
    finally:
        es.clear_scroll(scroll_id=resp["_scroll_id"])
    return found


def safe_count(es: Elasticsearch, index: str) -> int:
    try:
        if not es.indices.exists(index=index):
            return 0
        return es.count(index=index)["count"]
    except Exception:  # noqa: BLE001 - the node may be restarting
        return -1


def assert_exactly_once(es: Elasticsearch, settings: Settings, mentions: Sequence[RawMention]) -> int:
    """Every published id indexed, once; returns how many documents were written more than
    once (replays that the `_id` made idempotent)."""
    found = indexed_versions(es, settings.es_write_alias)
    ids = [doc_id for doc_id, _ in found]
    published = {m.id for m in mentions}
    assert len(published) == len(mentions), "the test publishes distinct ids"
    lost = published - set(ids)
    extra = set(ids) - published
    duplicated = len(ids) - len(set(ids))
    assert (len(lost), duplicated, len(extra)) == (0, 0, 0), (
        f"lost {len(lost)} (e.g. {sorted(lost)[:3]}), duplicated {duplicated}, unexpected {len(extra)}")
    return sum(1 for _, version in found if version > 1)


# ------------------------------------------------------------------ customer state

VOLATILE = ("updated_at", "indexed_at")


def expected_profiles(settings: Settings, mentions: Sequence[RawMention]) -> dict[str, dict]:
    """Each customer's profile document as a fault-free pipeline computes it: the same
    classify, enrich and observe functions, each mention once, in publish order."""
    from classifiers.registry import load_classifier
    from enrichers.stage import enrich_batch
    from pipeline.classify import classified, texts_and_languages
    from pipeline.customers.config import load_triage_config
    from pipeline.customers.observe import observe
    from pipeline.customers.profile_doc import profile_document

    triage = load_triage_config(settings.triage_config)
    classifier = load_classifier(settings.classifier)
    texts, languages = texts_and_languages(mentions)
    now = datetime.now(timezone.utc)
    outs = [classified(m, r, model_version=classifier.model_version, processed_at=now)
            for m, r in zip(mentions, classifier.classify_batch(texts, languages), strict=True)]
    outs = enrich_batch(outs, triage.severity_config())
    states: dict = {}
    for out in outs:
        states[out.customer_id], _verdict, _new = observe(states.get(out.customer_id), out, triage)
    return {cid: _comparable(profile_document(s, triage.history)) for cid, s in states.items()}


def _comparable(doc: dict) -> dict:
    return json.loads(json.dumps({k: v for k, v in doc.items() if k not in VOLATILE and v is not None}))


def indexed_profiles(es: Elasticsearch, index: str) -> dict[str, dict]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: _comparable(h["_source"]) for h in hits}


def assert_customer_state_intact(es: Elasticsearch, settings: Settings, mentions: Sequence[RawMention]) -> None:
    """The profiles the pipeline indexed equal the fault-free fold, customer by customer."""
    want = expected_profiles(settings, mentions)
    got = wait_for(lambda: _profiles_when_complete(es, settings.es_customers_index, want), timeout=120,
                   interval=1, what="every customer profile to be indexed")
    wrong = sorted(cid for cid in want if got.get(cid) != want[cid])
    detail = ""
    if wrong:
        cid = wrong[0]
        diff = {k: (got.get(cid, {}).get(k), want[cid].get(k)) for k in want[cid]
                if got.get(cid, {}).get(k) != want[cid].get(k)}
        detail = f"; first: {cid}: (got, want) {json.dumps(diff, default=str)[:1500]}"
    assert not wrong, f"{len(wrong)} of {len(want)} customer profiles differ from the fault-free state{detail}"


def _profiles_when_complete(es: Elasticsearch, index: str, want: dict[str, dict]) -> dict[str, dict] | None:
    try:
        got = indexed_profiles(es, index)
    except Exception:  # noqa: BLE001 - not created yet
        return None
    # the newest profile of a customer is its last: wait until each one has seen all its mentions
    # (more than all would be a mention counted twice: the comparison then says so)
    done = all((got.get(cid, {}).get("mentions") or 0) >= doc["mentions"] for cid, doc in want.items())
    return got if done else None


def start_worker(env: dict[str, str], log_path: Path) -> WorkerProcess:
    worker = WorkerProcess(env=env, log_path=log_path, web_port=free_port())
    worker.start(ready_timeout=180)
    return worker


def metric_value(worker: WorkerProcess, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter on the worker's /metrics (0 if absent)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def wait_until_indexed(es: Elasticsearch, settings: Settings, n: int, *, timeout: float = 240) -> None:
    started = time.monotonic()
    wait_for(lambda: safe_count(es, settings.es_write_alias) >= n, timeout=timeout, interval=1,
             what=f"{n} documents in {settings.es_write_alias} (after {time.monotonic() - started:.0f}s)")


def assert_nothing_lost_after_the_fault(es: Elasticsearch, settings: Settings, mentions: Sequence[RawMention],
                                        publisher: BackgroundPublisher, worker: WorkerProcess) -> int:
    """What every fault test ends with: the rest of the stream published, every mention indexed
    exactly once, nothing dead-lettered, customer state as in a fault-free run, the worker alive.
    Returns how many documents were written again by replays (same _id: harmless)."""
    from core.kafka_admin import end_offsets

    publisher.finish()
    wait_until_indexed(es, settings, len(mentions))
    rewritten = assert_exactly_once(es, settings, mentions)
    assert sum(end_offsets(settings.kafka_bootstrap, settings.topic_dlq).values()) == 0, "nothing dead-lettered"
    assert_customer_state_intact(es, settings, mentions)
    assert worker.alive(), "the worker is still running"
    return rewritten
