"""Bare model: batched inference of the classifier alone — the practical limit of the classify stage.

    python -m bench.model --classifier transformer --backend onnx-int8

Runs in its own interpreter (`bench.run` starts one per back-end) so its peak RSS is its
own. Texts: the bundled sample (data/sample/mentions.jsonl), repeated to `--n`, in batches
of `classify_batch_size`, through `load_classifier(...).classify_batch` exactly as the
classify agent calls it: one call at a time on every core (`--parallel 1`), or `--parallel k`
calls at once on cores ÷ k threads each, as a worker with `classify_in_flight` k runs it.
Accuracy: the message-type macro-F1 on the sample's true labels (data/sample/labels.csv), so a
fast path is judged by what it gets right. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from core.paths import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample" / "mentions.jsonl"
LABELS = PROJECT_ROOT / "data" / "sample" / "labels.csv"
TYPES = ["complaint", "question", "suggestion", "compliment", "other"]


def sample_mentions():
    """The sample's valid mentions (the deliberately bad lines are skipped)."""
    from pipeline.normalize import normalize
    from schemas import RawMention

    now = datetime.now(timezone.utc)
    out = []
    for line in SAMPLE.read_bytes().splitlines():
        result = normalize(line, received_at=now)
        if isinstance(result, RawMention):
            out.append(result)
    return out


def true_types() -> dict[str, str]:
    with LABELS.open(newline="", encoding="utf-8") as f:
        return {row["id"]: row["true_type"] for row in csv.DictReader(f)}


def measure(classifier: str, backend: str | None, n: int, batch_size: int, parallel: int = 1) -> dict:
    from bench.env import peak_rss_mb
    from classifiers.metrics import scores
    from classifiers.registry import load_classifier
    from pipeline.classify import texts_and_languages

    mentions = sample_mentions()
    texts, languages = texts_and_languages(mentions)
    started = time.perf_counter()
    from classifiers.e5.onnx_session import available_cores

    threads = max(1, available_cores() // parallel) if parallel > 1 else None
    clf = load_classifier(classifier, backend, threads=threads)
    load_seconds = time.perf_counter() - started
    clf.classify_batch(texts[:batch_size], languages[:batch_size])  # warm up (lazy sessions, caches)

    # accuracy on the labelled sample, in the pipeline's batch size
    gold = true_types()
    preds = []
    for start in range(0, len(texts), batch_size):
        preds += clf.classify_batch(texts[start:start + batch_size], languages[start:start + batch_size])
    labelled = [(gold[m.id], p.type.value) for m, p in zip(mentions, preds, strict=True) if m.id in gold]
    quality = scores([g for g, _ in labelled], [p for _, p in labelled], TYPES)

    reps = n // len(texts) + 1
    run_texts, run_langs = (texts * reps)[:n], (languages * reps)[:n]
    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda start: clf.classify_batch(run_texts[start:start + batch_size],
                                                       run_langs[start:start + batch_size]), range(0, n, batch_size)))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    import os

    return {"classifier": classifier, "backend": getattr(clf, "backend", None), "model_version": clf.model_version,
            "n": n, "batch_size": batch_size, "parallel": parallel, "per_second": round(n / seconds, 1),
            # CPU (all threads) per mention: steadier than the rate when others share the cores
            "cpu_ms_per_mention": round(1000 * cpu_seconds / n, 2),
            "type_macro_f1": round(quality["macro_f1"], 4), "type_accuracy": round(quality["accuracy"], 4),
            "labelled": len(labelled), "load_seconds": round(load_seconds, 1),
            "peak_rss_mb": round(peak_rss_mb(os.getpid()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default=None, help="registry name (default: the `classifier` setting)")
    parser.add_argument("--backend", default=None, help="transformer back-end (default: the setting)")
    parser.add_argument("--n", type=int, default=2000, help="texts to classify (the sample, repeated)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the classify_batch_size setting")
    parser.add_argument("--parallel", type=int, default=1, help="batches classified at once (threads: cores ÷ this)")
    args = parser.parse_args(argv)
    from core.settings import get_settings

    s = get_settings()
    print(json.dumps(measure(args.classifier or s.classifier, args.backend, args.n,
                             args.batch_size or s.classify_batch_size, max(1, args.parallel))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
