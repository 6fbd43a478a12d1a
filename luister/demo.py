"""`luister demo`: the whole pipeline on the local embedded services, with a summary.

1. start Kafka + Elasticsearch (deploy/local/services.py), create topics and index;
2. start one Faust worker;
3. replay the bundled sample into `mentions.raw`;
4. wait until every record is indexed or dead-lettered, measuring publish→searchable
   latency by polling Elasticsearch (a document counts when a search first returns it);
5. print counts by type, sentiment and source, latency percentiles, the DLQ reasons,
   and a query to paste.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from elasticsearch import Elasticsearch

from core.kafka_admin import create_topics, end_offsets, read_from
from core.paths import PROJECT_ROOT
from core.settings import Settings
from harness.probe import SearchableProbe
from harness.stats import percentile
from harness.worker import WorkerProcess
from sinks.elasticsearch.index import ensure_mention_index

SERVICES = [sys.executable, str(PROJECT_ROOT / "deploy" / "local" / "services.py")]


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def run_demo(settings: Settings, sample: Path, *, timeout: float, keep_services: bool) -> int:
    from connectors.file_replay import FileReplayConnector
    from connectors.publisher import MentionPublisher

    began = time.monotonic()
    say("starting Kafka and Elasticsearch (first run downloads them; later runs reuse .cache/)")
    if subprocess.call(SERVICES + ["up"]) != 0:
        say("could not start the services; the message above says why")
        return 1
    create_topics(settings)
    ensure_mention_index(settings.es_url, settings.es_index_prefix, settings.es_refresh_interval)
    es = Elasticsearch(settings.es_url, request_timeout=30)
    dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)

    worker_log = PROJECT_ROOT / ".cache" / "logs" / "demo-worker.log"
    say(f"starting a Faust worker (log: {worker_log})")
    worker = WorkerProcess(env=dict(os.environ), log_path=worker_log)
    try:
        worker.start()
    except RuntimeError as exc:
        say(f"the Faust worker did not start; see {worker_log}")
        raise SystemExit(1) from exc
    try:
        run_start = datetime.now(timezone.utc)
        probe = SearchableProbe(es, settings.es_write_alias, run_start)
        probe.start()
        say(f"replaying {sample}")
        with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as publisher:
            stats = FileReplayConnector(sample).run(publisher)
        expected_valid = set(stats.published_ids)
        say(f"published {stats.total} records ({stats.valid} valid, {stats.passthrough} invalid)")

        deadline = time.monotonic() + timeout
        dead_letters: list[dict] = []
        last_report = 0.0
        while True:
            indexed = len(expected_valid & probe.latency_s.keys())
            dead_letters = [json.loads(v) for v in read_from(settings.kafka_bootstrap, settings.topic_dlq, dlq_start,
                                                              timeout_s=5)]
            if indexed + len(dead_letters) >= stats.total and indexed >= len(expected_valid):
                break
            if time.monotonic() > deadline:
                say(f"timed out after {timeout:.0f}s: {indexed} indexed, {len(dead_letters)} dead-lettered of "
                    f"{stats.total}; see {worker_log}")
                return 1
            if time.monotonic() - last_report > 2:
                say(f"  progress: {indexed}/{len(expected_valid)} searchable, {len(dead_letters)} dead-lettered")
                last_report = time.monotonic()
            time.sleep(0.5)
        probe.stop()
    finally:
        worker.stop()

    es.indices.refresh(index=settings.es_write_alias)
    _print_summary(es, settings, expected_valid, probe, dead_letters, time.monotonic() - began)
    if not keep_services:
        subprocess.call(SERVICES + ["down"])
    else:
        say("Kafka and Elasticsearch keep running; stop them with: make services-down")
    return 0


_TRIAGE_TERMS = ("persona", "labels", "severity", "language", "tone.formality", "respond_rule", "moderation.action",
                 "persona_change.to_persona")
_TRIAGE_FLAGS = ("should_respond", "tone.emoji", "flags.profanity", "flags.abusive", "flags.legal_threat",
                 "flags.safety", "flags.claim", "flags.data_leak", "flags.press", "flags.influencer")


def _print_triage(es: Elasticsearch, index: str, ids: set[str], settings: Settings) -> None:
    """Customer state and triage (docs/triage.md): every field it adds, in a few lines."""
    aggs: dict = {n: {"terms": {"field": n, "size": 12}} for n in _TRIAGE_TERMS}
    aggs.update({n: {"filter": {"term": {n: True}}} for n in _TRIAGE_FLAGS})
    aggs["persona_confidence"] = {"avg": {"field": "persona_confidence"}}
    aggs["language_confidence"] = {"avg": {"field": "language_confidence"}}
    aggs["repeated_evidence"] = {"value_count": {"field": "repeated_negativity.earlier_ids"}}
    aggs["respond_by"] = {"value_count": {"field": "respond_by"}}
    aggs["has_reasons"] = {"filter": {"exists": {"field": "severity_reasons.raw"}}}
    aggs["profanity_terms"] = {"terms": {"field": "profanity_terms", "size": 5}}
    r = es.search(index=index, size=0, query={"ids": {"values": sorted(ids)}}, aggs=aggs)["aggregations"]
    for name in _TRIAGE_TERMS:
        print(f" by {name:<18} " + (", ".join(f"{b['key_as_string'] if 'key_as_string' in b else b['key']} "
                                              f"{b['doc_count']}" for b in r[name]["buckets"]) or "none"))
    print(" flags                 " + ", ".join(f"{n.split('.')[-1]} {r[n]['doc_count']}" for n in _TRIAGE_FLAGS))
    print(f" persona conf. (avg)   {r['persona_confidence']['value'] or 0:.2f}   language conf. (avg) "
          f"{r['language_confidence']['value'] or 0:.2f}   with severity reasons {r['has_reasons']['doc_count']}")
    # suggested_reply is stored, not indexed: count it from the documents themselves
    replies = [h["_source"]["suggested_reply"] for h in es.search(
        index=index, size=len(ids), query={"ids": {"values": sorted(ids)}}, source=["suggested_reply"])["hits"]["hits"]
        if h["_source"].get("suggested_reply")]
    print(f" respond_by set        {r['respond_by']['value']}   suggested replies {len(replies)}   "
          f"repeated-negativity evidence ids {r['repeated_evidence']['value']}")
    if replies:
        print(f" e.g. reply            {min(replies, key=len)[:110]}")
    if r["profanity_terms"]["buckets"]:
        print(" profanity terms       " + ", ".join(f"{b['key']} {b['doc_count']}" for b in r["profanity_terms"]["buckets"]))
    try:
        es.indices.refresh(index=settings.es_customers_index)
        c = es.search(index=settings.es_customers_index, size=0,
                      aggs={"persona": {"terms": {"field": "persona"}},
                            "linked": {"filter": {"range": {"accounts_count": {"gte": 2}}}}})
        print(f" customer profiles     {c['hits']['total']['value']} in {settings.es_customers_index} ("
              + ", ".join(f"{b['key']} {b['doc_count']}" for b in c["aggregations"]["persona"]["buckets"])
              + f"; with linked accounts {c['aggregations']['linked']['doc_count']})")
    except Exception as exc:  # noqa: BLE001 - the summary must not fail on the profiles index
        print(f" customer profiles     unavailable ({exc.__class__.__name__})")


def _print_summary(es: Elasticsearch, settings: Settings, ids: set[str], probe: SearchableProbe,
                   dead_letters: list[dict], elapsed: float) -> None:
    index = settings.es_write_alias
    resp = es.search(
        index=index, size=0, query={"ids": {"values": sorted(ids)}},
        aggs={name: {"terms": {"field": name, "size": 20}} for name in ("type", "sentiment", "source", "brand", "model_version")},
    )
    total = resp["hits"]["total"]["value"]
    latencies = sorted(probe.latency_s[i] for i in ids if i in probe.latency_s)
    print()
    print("=" * 64)
    print(f" Luister demo summary  ({elapsed:.0f}s wall clock)")
    print("=" * 64)
    print(f" indexed mentions      {total}")
    print(f" dead-lettered         {len(dead_letters)}")
    for name in ("type", "sentiment", "source", "brand", "model_version"):
        buckets = resp["aggregations"][name]["buckets"]
        print(f" by {name:<13}      " + ", ".join(f"{b['key']} {b['doc_count']}" for b in buckets))
    _print_triage(es, index, ids, settings)
    if latencies:
        print(f" publish→searchable    p50 {percentile(latencies, 50):.2f}s   p99 {percentile(latencies, 99):.2f}s   "
              f"(n={len(latencies)}, polled every {probe.interval:.1f}s)")
    reasons = Counter(d["reason"] for d in dead_letters)
    if dead_letters:
        print(" dead-letter reasons   " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
        for d in dead_letters:
            print(f"   - {d['reason']}: {d['detail'][:90]}")
    print("-" * 64)
    print(" Try it yourself:")
    print(f"   curl -s '{settings.es_url}/{index}/_count'")
    print(f"   curl -s '{settings.es_url}/{index}/_search?pretty' -H 'content-type: application/json' -d '"
          '{"query":{"bool":{"must":{"match":{"text.nl":"pakket"}},"filter":{"term":{"type":"complaint"}}}},'
          '"_source":["text","type","sentiment","brand"],"size":3}\'')
    print(" Stop the services with: make services-down")
    print("=" * 64)
