"""Throughput of one serving back-end: `python -m classifiers.bench --backend onnx-int8`.

Runs in its own interpreter so its peak RSS is its own. Texts: the first N test-split
mentions (real lengths), repeated if needed. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's peak RSS. (ru_maxrss would include the parent's, inherited across fork+exec.)"""
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", required=True)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1,8,32,64")
    args = parser.parse_args(argv)

    from classifiers.corpus import assign, load_corpus, load_split
    from classifiers.transformer import TransformerClassifier

    test = assign(load_corpus(), load_split())["test"]
    texts = [e.text for e in test]
    texts = (texts * (args.n // max(len(texts), 1) + 1))[:args.n]
    started = time.perf_counter()
    clf = TransformerClassifier(backend=args.backend, with_language=False)
    load_seconds = time.perf_counter() - started
    clf.classify_batch(texts[:8], [None] * 8)  # warm up
    per_second = {}
    for size in (int(s) for s in args.batch_sizes.split(",")):
        if hasattr(clf.encoder, "batch_size"):
            clf.encoder.batch_size = size
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            chunk = texts[start:start + size]
            clf.classify_batch(chunk, [None] * len(chunk))
        per_second[str(size)] = round(len(texts) / (time.perf_counter() - started), 1)
    rss_mb = peak_rss_mb()
    print(json.dumps({"backend": args.backend, "model_version": clf.model_version, "n": len(texts),
                      "per_second": per_second, "load_seconds": round(load_seconds, 1),
                      "peak_rss_mb": round(rss_mb)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
