"""`make bench`: the bare model, a naive consumer and Luister, side by side in one run.

Prints a table with the ratios and saves it as JSON under bench/results/. Everything runs
on the shared local Kafka and Elasticsearch with this run's own topics, consumer groups and
indices, removed afterwards. See docs/benchmarks.md for the method.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.env import RUN_DIR, Scenario
from core.paths import PROJECT_ROOT
from core.settings import get_settings

RESULTS = PROJECT_ROOT / "bench" / "results"
TARGETS = {"per_worker": 320, "vs_naive": 8.0, "vs_model": 0.80, "p99_s": 2.0, "rss_mb": 1024}


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _json_line(cmd: list[str], timeout: float) -> dict:
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bare_models(classifier: str, backends: list[str | None], n: int, parallel: int = 1) -> list[dict]:
    rows = []
    for backend in backends:
        cmd = [sys.executable, "-m", "bench.model", "--classifier", classifier, "--n", str(n),
               "--parallel", str(parallel)]
        if backend:
            cmd += ["--backend", backend]
        layout = f", {parallel} batches at once" if parallel > 1 else ""
        say(f"bare model: {classifier}{' / ' + backend if backend else ''} ({n} texts{layout})")
        row = _json_line(cmd, timeout=600)
        say(f"  {row['per_second']} mentions/s, type macro-F1 {row['type_macro_f1']}, peak RSS {row['peak_rss_mb']} MiB")
        rows.append(row)
    return rows


def naive(backlog: Scenario, classifier: str, backend: str | None, seconds: float) -> dict:
    s = backlog.settings
    cmd = [sys.executable, "-m", "bench.naive", "--bootstrap", s.kafka_bootstrap, "--topic", s.topic_raw,
           "--group", f"{backlog.prefix}-naive-{backend or classifier}", "--es-url", s.es_url,
           "--index", f"{s.es_index_prefix}-naive", "--classifier", classifier, "--seconds", str(seconds)]
    if backend:
        cmd += ["--backend", backend]
    say(f"naive consumer: {classifier}{' / ' + backend if backend else ''}, one model call and one index call "
        "per message")
    row = _json_line(cmd, timeout=seconds + 300)
    say(f"  {row['per_second']} mentions/s over {row['seconds']}s, peak RSS {row['peak_rss_mb']} MiB")
    return row


REFERENCE_BACKENDS = ("onnx-int8", "onnx-fp32", "torch-fp32")


def serving_backend(settings) -> str:
    """The transformer back-end the workers run: the `classifier_backend` setting, or (auto) the one
    training chose as its fastest accurate path (heads.safetensors metadata)."""
    if settings.classifier_backend != "auto":
        return settings.classifier_backend
    from classifiers.heads import Heads
    from classifiers.transformer import HEADS_FILE, WEIGHTS_DIR

    return Heads.load(WEIGHTS_DIR / HEADS_FILE).meta.get("backend", "torch-fp32")


def backends_to_measure(classifier: str, serving: str | None) -> list[str | None]:
    """The serving back-end first (the reference for "÷ bare model"), then the others for comparison."""
    if classifier != "transformer":
        return [None]
    return [serving] + [b for b in REFERENCE_BACKENDS if b != serving]


def describe_stream(result: dict, name: str, mentions: list) -> str:
    """Count a published stream's mentions and distinct texts (the classify cache reuses repeated texts,
    so the share of distinct ones says how much of the stream reached the model) and record both."""
    counts = {"mentions": len(mentions), "distinct_texts": len({m.text for m in mentions})}
    result.setdefault("streams", {})[name] = counts
    return f"{counts['mentions']} synthetic mentions ({counts['distinct_texts']} distinct texts)"


def table(r: dict) -> str:
    lux1, lux2 = r["luister"]["1"], r["luister"].get("2")
    model = r["model_reference"]
    naive_row = r["naive"][0]
    lines = ["", "=" * 78, f" Luister benchmark — {r['classifier']} ({r['model_version']}), {r['cpus']} CPUs, "
             f"{r['started_at'][:16]}Z", "=" * 78,
             f" {'scenario':<44}{'mentions/s':>11}{'peak RSS MiB':>13}{'CPU ms/m':>10}"]

    def cpu_ms(per_worker_cpu_second: float) -> str:
        return f"{1000 / per_worker_cpu_second:>10.1f}" if per_worker_cpu_second else f"{'':>10}"

    for m in r["bare_model"]:
        layout = f" ×{m['parallel']}" if m.get("parallel", 1) > 1 else ""
        label = (f"bare model {m['classifier']}{'/' + m['backend'] if m['backend'] else ''}{layout} "
                 f"(F1 {m['type_macro_f1']:.2f})")
        cpu = m.get("cpu_ms_per_mention")
        lines.append(f" {label:<44}{m['per_second']:>11.0f}{m['peak_rss_mb']:>13}"
                     f"{f'{cpu:>10.1f}' if cpu is not None else ''}")
    for n in r["naive"]:
        lines.append(f" {'naive consumer (' + (n['backend'] or n['classifier']) + ')':<44}{n['per_second']:>11.1f}"
                     f"{n['peak_rss_mb']:>13}")
    for k, run in sorted(r["luister"].items()):
        label = f"Luister, {k} worker{'s (one group)' if k != '1' else ' (saturated)'}"
        lines.append(f" {label:<44}{run['per_second']:>11.0f}{max(run['peak_rss_mb'].values()):>13}"
                     f"{cpu_ms(run['mentions_per_worker_cpu_second'])}")
    lat = r.get("latency") or {}
    ratios = r["ratios"]
    lines += ["-" * 78,
              f" Luister ÷ naive, same back-end ({naive_row['backend'] or naive_row['classifier']}):"
              f"{ratios['vs_naive']:>8.1f}×   (target ≥ {TARGETS['vs_naive']:.0f}×)",
              *[f" Luister ÷ naive ({k.removeprefix('vs_naive_')}):{v:>8.1f}×   (for comparison)"
                for k, v in ratios.items() if k.startswith("vs_naive_")],
              f" Luister ÷ bare model ({model['backend'] or model['classifier']}):{ratios['vs_model']:>8.0%}"
              f"   (target ≥ {TARGETS['vs_model']:.0%})",
              f" per worker:{lux1['per_second']:>8.0f} mentions/s   (target ≥ {TARGETS['per_worker']})",
              " streams published: " + ", ".join(f"{k} {v['mentions']} ({v['distinct_texts']} distinct texts)"
                                                 for k, v in r.get("streams", {}).items())]
    if lux2:
        lines.append(f" 1 → 2 workers (model threads per batch {lux1.get('classifier_threads_per_worker', '?')} → "
                     f"{lux2.get('classifier_threads_per_worker', '?')}): ×{ratios['scaling']:.2f} throughput; "
                     f"worker CPU {r['cpu_note']}")
    if lat.get("p99") is not None:
        lines.append(f" publish→searchable at {lat['rate']:.0f}/s (50% of saturation): p50 {lat['p50']:.2f}s  "
                     f"p95 {lat['p95']:.2f}s  p99 {lat['p99']:.2f}s   (target p99 < {TARGETS['p99_s']:.0f}s)")
    lines += [f" worker peak RSS: {r['worker_peak_rss_mb']} MiB   (target < {TARGETS['rss_mb']} MiB)",
              f" where the time goes (1 worker, seconds per 1000 mentions): {r['stage_ms_per_mention']}",
              "=" * 78]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--classifier", default=None, help="registry name; default: the `classifier` setting")
    parser.add_argument("--backlog", type=int, default=4000, help="mentions published for the naive consumers")
    parser.add_argument("--burst", type=int, default=6000, help="mentions each Luister run drains")
    parser.add_argument("--window", type=float, default=100.0, help="at most this many seconds per Luister run")
    parser.add_argument("--model-n", type=int, default=2000, help="texts for each bare-model measurement")
    parser.add_argument("--naive-seconds", type=float, default=15.0, help="measured seconds of the naive consumer")
    parser.add_argument("--latency-seconds", type=float, default=15.0, help="paced publishing at 50%% load")
    parser.add_argument("--no-scaling", action="store_true", help="skip the two-worker run")
    parser.add_argument("--profile", action="store_true", help="py-spy the 1-worker run (written to .cache/bench/)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON result")
    args = parser.parse_args(argv)

    began = time.monotonic()
    settings = get_settings()
    classifier = args.classifier or settings.classifier
    os.environ["LUISTER_CLASSIFIER"] = classifier  # the workers and subprocesses load the same one
    result: dict = {"started_at": datetime.now(timezone.utc).isoformat(), "classifier": classifier,
                    "cpus": os.cpu_count(), "python": platform.python_version(), "targets": TARGETS,
                    "settings": {k: getattr(settings, k) for k in ("classify_batch_size", "normalize_batch_size",
                                                                   "batch_within_seconds", "es_bulk_size",
                                                                   "es_sink_within_seconds", "topic_partitions",
                                                                   "profile_batch_size", "classifier_backend",
                                                                   "kafka_producer_linger_seconds",
                                                                   "es_refresh_interval",
                                                                   "classify_in_flight")}}

    # 1. bare model, each back-end in its own interpreter; the baseline too, labelled
    serving = serving_backend(settings) if classifier == "transformer" else None
    result["serving_backend"] = serving
    backends = backends_to_measure(classifier, serving)
    result["bare_model"] = bare_models(classifier, backends[:1], args.model_n)
    if classifier == "transformer" and settings.classify_in_flight > 1:
        # as a worker runs it (batches in flight side by side, fewer threads each): the faster of the two
        # layouts is the model's fastest path, so the reference for "÷ bare model"
        result["bare_model"] += bare_models(classifier, backends[:1], args.model_n, settings.classify_in_flight)
    result["bare_model"] += bare_models(classifier, backends[1:], args.model_n // 4)  # for comparison only
    if classifier != "baseline":
        result["bare_model"] += bare_models("baseline", [None], args.model_n)
    elif (PROJECT_ROOT / "classifiers" / "weights" / "heads.safetensors").is_file():
        # trained but not (yet) the pipeline's classifier: its bare speed and accuracy, labelled, for reference
        try:
            result["bare_model"] += bare_models("transformer", list(REFERENCE_BACKENDS), min(args.model_n, 1000))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"  the transformer could not be measured: {str(exc)[:300]}")
    # the serving back-end on its faster layout
    reference = max((m for m in result["bare_model"] if m["backend"] == result["bare_model"][0]["backend"]
                     and m["classifier"] == classifier), key=lambda m: m["per_second"])
    result["model_reference"] = reference
    result["model_version"] = reference["model_version"]

    # 2. one backlog, drained by the naive consumer and by Luister (separate consumer groups)
    from bench.pipeline import latency, publish, saturation
    from connectors.synthetic import generate
    from core.kafka_admin import create_topics

    backlog = Scenario("backlog")
    scenarios = [backlog]
    try:
        create_topics(backlog.settings)
        mentions = [g[0] for g in generate(args.backlog, seed=args.seed)]
        say(f"publishing a backlog of {describe_stream(result, 'backlog', mentions)} to {backlog.settings.topic_raw}")
        stats = publish(backlog.settings, mentions)
        say(f"  published in {stats.seconds:.1f}s")

        # the headline: the serving back-end per message (the same model as Luister: what batching and the
        # pipeline add); then torch, as a user's first version would run the model (a secondary row)
        naive_backends = list(dict.fromkeys([serving, "torch-fp32"])) if classifier == "transformer" else [None]
        result["naive"] = [naive(backlog, classifier, b, args.naive_seconds) for b in naive_backends]

        result["luister"] = {}
        burst = [g[0] for g in generate(args.burst, seed=args.seed + 2)]
        say(f"each Luister run drains a burst of {describe_stream(result, 'burst', burst)}")
        for workers in ([1] if args.no_scaling else [1, 2]):
            # the model's threads split the cores between the workers and their batches in flight: k workers on
            # one host, cores ÷ k ÷ in flight each (docs/operations.md), at least one
            threads = max(1, (os.cpu_count() or 1) // workers // settings.classify_in_flight)
            run = Scenario(f"luister{workers}", extra={"LUISTER_CLASSIFIER_THREADS": str(threads)})
            scenarios.append(run)
            say(f"Luister with {workers} worker(s)")
            profile_to = RUN_DIR / "profile" / f"worker-{run.tag}.txt" if args.profile and workers == 1 else None
            result["luister"][str(workers)] = saturation(run, workers, burst, args.window, say,
                                                         profile_to=profile_to)
            result["luister"][str(workers)]["classifier_threads_per_worker"] = threads
            if profile_to:
                result["profile_file"] = str(profile_to)

        # 3. latency at half the one-worker saturation rate
        half = result["luister"]["1"]["per_second"] / 2
        paced = Scenario("latency")
        scenarios.append(paced)
        n = int(half * args.latency_seconds) + 64
        paced_mentions = [g[0] for g in generate(n, seed=args.seed + 1)]
        say(f"latency at 50% load ({half:.0f} mentions/s for {args.latency_seconds:.0f}s): "
            f"{describe_stream(result, 'latency', paced_mentions)}")
        result["latency"] = latency(paced, paced_mentions, half, say)
    finally:
        for s in scenarios:
            try:
                s.cleanup()
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                say(f"cleanup of {s.name} failed: {exc!r}")

    lux1, lux2 = result["luister"]["1"], result["luister"].get("2")
    naive_ref = result["naive"][0]
    result["ratios"] = {"vs_naive": round(lux1["per_second"] / max(naive_ref["per_second"], 1e-9), 2),
                        "vs_model": round(lux1["per_second"] / reference["per_second"], 3)}
    for n in result["naive"][1:]:
        result["ratios"][f"vs_naive_{n['backend'] or n['classifier']}"] = round(
            lux1["per_second"] / max(n["per_second"], 1e-9), 2)
    if lux2:
        result["ratios"]["scaling"] = round(lux2["per_second"] / lux1["per_second"], 2)
        cpu1 = sum(v for k, v in lux1["cpu_cores"].items() if k.startswith("worker"))
        cpu2 = sum(v for k, v in lux2["cpu_cores"].items() if k.startswith("worker"))
        result["cpu_note"] = (f"{cpu1:.2f} → {cpu2:.2f} cores, machine {lux1['cpu_cores']['machine']:.2f} → "
                              f"{lux2['cpu_cores']['machine']:.2f} of {os.cpu_count()}; per worker-CPU-second "
                              f"{lux1['mentions_per_worker_cpu_second']} → {lux2['mentions_per_worker_cpu_second']}")
    rss = [v for run in result["luister"].values() for v in run["peak_rss_mb"].values()]
    result["worker_peak_rss_mb"] = max(rss + [result["latency"].get("peak_rss_mb", 0)])
    done = max(lux1["mentions"], 1)
    result["stage_ms_per_mention"] = {k: round(1000 * v / done, 2) for k, v in lux1["stage_seconds"].items()}
    result["elapsed_seconds"] = round(time.monotonic() - began, 1)

    print(table(result))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"{classifier}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    say(f"saved {path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path} "
        f"(and latest.json); whole run {result['elapsed_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
