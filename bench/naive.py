"""The naive pipeline: what a user writes first, as the yardstick for Luister.

    python -m bench.naive --topic T --group G --index I --seconds 20

A kafka-python consumer loop that, for each message, parses it, calls the model on that
one text, and indexes the one document with its own Elasticsearch `index` call. (It does
less than Luister — no enrichment, no customer state, no crisis detection, no dead-letter
topic — which flatters it.) Runs in its own interpreter; prints one JSON line with the
steady-state rate (after a warm-up) and its peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone


def run(bootstrap: str, topic: str, group: str, es_url: str, index: str, classifier: str, backend: str | None,
        seconds: float, warmup: float, limit: int) -> dict:
    from elasticsearch import Elasticsearch
    from kafka import KafkaConsumer

    from classifiers.registry import load_classifier
    from pipeline.classify import classified
    from schemas import RawMention

    from bench.env import peak_rss_mb

    clf = load_classifier(classifier, backend) if backend else load_classifier(classifier)
    es = Elasticsearch(es_url, request_timeout=30)
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=True, consumer_timeout_ms=10_000)
    done = 0
    started = measured_from = None
    measured = 0
    try:
        for record in consumer:
            now = time.perf_counter()
            if started is None:
                started = now
            if measured_from is None and now - started >= warmup:
                measured_from, measured = now, 0
            mention = RawMention.model_validate_json(record.value)
            result = clf.classify_batch([mention.text], [mention.lang_hint])[0]  # one message, one model call
            doc = classified(mention, result, model_version=clf.model_version, processed_at=datetime.now(timezone.utc))
            es.index(index=index, id=doc.id, document=doc.model_dump(mode="json", exclude_none=True))
            done += 1
            measured += 1
            if done >= limit or (measured_from is not None and time.perf_counter() - measured_from >= seconds):
                break
    finally:
        consumer.close()
    elapsed = time.perf_counter() - (measured_from or started or time.perf_counter())
    return {"scenario": "naive", "classifier": classifier, "backend": getattr(clf, "backend", None),
            "model_version": clf.model_version, "processed": done, "measured": measured,
            "seconds": round(elapsed, 2), "per_second": round(measured / elapsed, 1) if elapsed > 0 else 0.0,
            "peak_rss_mb": round(peak_rss_mb(os.getpid()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--es-url", default="http://127.0.0.1:9200")
    parser.add_argument("--index", required=True)
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time after the warm-up")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--limit", type=int, default=1_000_000, help="stop after this many messages")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.bootstrap, args.topic, args.group, args.es_url, args.index, args.classifier,
                         args.backend, args.seconds, args.warmup, args.limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
