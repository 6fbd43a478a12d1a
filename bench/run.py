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
from luister.config import PROJECT_ROOT, get_settings

RESULTS = PROJECT_ROOT / "bench" / "results"
TARGETS = {"per_worker": 320, "vs_naive": 8.0, "vs_model": 0.80, "p99_s": 2.0, "rss_mb": 1024}


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def _json_line(cmd: list[str], timeout: float) -> dict:
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bare_models(classifier: str, backends: list[str | None], n: int) -> list[dict]:
    rows = []
    for backend in backends:
        cmd = [sys.executable, "-m", "bench.model", "--classifier", classifier, "--n", str(n)]
        if backend:
            cmd += ["--backend", backend]
        say(f"bare model: {classifier}{' / ' + backend if backend else ''} ({n} texts)")
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


def _fastest_accurate(models: list[dict], tolerance: float = 0.02) -> dict:
    """The fastest back-end whose macro-F1 is within `tolerance` of the best one."""
    best = max(m["type_macro_f1"] for m in models)
    return max((m for m in models if m["type_macro_f1"] >= best - tolerance), key=lambda m: m["per_second"])


def table(r: dict) -> str:
    lux1, lux2 = r["luister"]["1"], r["luister"].get("2")
    model = r["model_reference"]
    naive_row = r["naive"][0]
    lines = ["", "=" * 78, f" Luister benchmark — {r['classifier']} ({r['model_version']}), {r['cpus']} CPUs, "
             f"{r['started_at'][:16]}Z", "=" * 78,
             f" {'scenario':<44}{'mentions/s':>12}{'peak RSS MiB':>14}"]
    for m in r["bare_model"]:
        label = f"bare model {m['classifier']}{'/' + m['backend'] if m['backend'] else ''} (F1 {m['type_macro_f1']:.2f})"
        lines.append(f" {label:<44}{m['per_second']:>12.0f}{m['peak_rss_mb']:>14}")
    for n in r["naive"]:
        lines.append(f" {'naive consumer (' + (n['backend'] or n['classifier']) + ')':<44}{n['per_second']:>12.1f}"
                     f"{n['peak_rss_mb']:>14}")
    lines.append(f" {'Luister, 1 worker (saturated)':<44}{lux1['per_second']:>12.0f}{max(lux1['peak_rss_mb'].values()):>14}")
    if lux2:
        lines.append(f" {'Luister, 2 workers (one group)':<44}{lux2['per_second']:>12.0f}"
                     f"{max(lux2['peak_rss_mb'].values()):>14}")
    lat = r.get("latency") or {}
    ratios = r["ratios"]
    lines += ["-" * 78,
              f" Luister ÷ naive ({naive_row['backend'] or naive_row['classifier']}):{ratios['vs_naive']:>8.1f}×"
              f"   (target ≥ {TARGETS['vs_naive']:.0f}×)",
              f" Luister ÷ bare model ({model['backend'] or model['classifier']}):{ratios['vs_model']:>8.0%}"
              f"   (target ≥ {TARGETS['vs_model']:.0%})",
              f" per worker:{lux1['per_second']:>8.0f} mentions/s   (target ≥ {TARGETS['per_worker']})"]
    if lux2:
        lines.append(f" 1 → 2 workers: ×{ratios['scaling']:.2f} throughput; worker CPU {r['cpu_note']}")
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
    parser.add_argument("--backlog", type=int, default=12000, help="mentions published before the workers start")
    parser.add_argument("--window", type=float, default=20.0, help="seconds of steady state measured per run")
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
                                                                   "es_sink_within_seconds", "topic_partitions")}}

    # 1. bare model, each back-end in its own interpreter; the baseline too, labelled
    backends: list[str | None] = ["onnx-int8", "torch-fp32"] if classifier == "transformer" else [None]
    result["bare_model"] = bare_models(classifier, backends, args.model_n)
    if classifier != "baseline":
        result["bare_model"] += bare_models("baseline", [None], args.model_n)
    elif (PROJECT_ROOT / "classifiers" / "weights" / "heads.safetensors").is_file():
        # trained but not (yet) the pipeline's classifier: its bare speed and accuracy, labelled, for reference
        try:
            result["bare_model"] += bare_models("transformer", ["onnx-int8", "torch-fp32"], min(args.model_n, 1000))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"  the transformer could not be measured: {str(exc)[:300]}")
    own = [m for m in result["bare_model"] if m["classifier"] == classifier]
    reference = _fastest_accurate(own)
    result["model_reference"] = reference
    result["model_version"] = reference["model_version"]

    # 2. one backlog, drained by the naive consumer and by Luister (separate consumer groups)
    from connectors.synthetic import generate
    from luister.kafka_admin import create_topics

    from bench.pipeline import latency, publish, saturation

    backlog = Scenario("backlog")
    scenarios = [backlog]
    try:
        create_topics(backlog.settings)
        mentions = [g[0] for g in generate(args.backlog, seed=args.seed)]
        say(f"publishing a backlog of {len(mentions)} synthetic mentions "
            f"({len({m.text for m in mentions})} distinct texts) to {backlog.settings.topic_raw}")
        stats = publish(backlog.settings, mentions)
        say(f"  published in {stats.seconds:.1f}s")

        naive_backends = ["torch-fp32", "onnx-int8"] if classifier == "transformer" else [None]
        result["naive"] = [naive(backlog, classifier, b, args.naive_seconds) for b in naive_backends]

        result["luister"] = {}
        for workers in ([1] if args.no_scaling else [1, 2]):
            run = Scenario(f"luister{workers}", raw_topic=backlog.settings.topic_raw)
            scenarios.append(run)
            say(f"Luister with {workers} worker(s)")
            profile_to = RUN_DIR / "profile" / f"worker-{run.tag}.txt" if args.profile and workers == 1 else None
            result["luister"][str(workers)] = saturation(run, workers, len(mentions), args.window, say,
                                                         profile_to=profile_to)
            if profile_to:
                result["profile_file"] = str(profile_to)

        # 3. latency at half the one-worker saturation rate
        half = result["luister"]["1"]["per_second"] / 2
        paced = Scenario("latency")
        scenarios.append(paced)
        n = int(half * args.latency_seconds) + 64
        say(f"latency at 50% load ({half:.0f} mentions/s for {args.latency_seconds:.0f}s)")
        result["latency"] = latency(paced, [g[0] for g in generate(n, seed=args.seed + 1)], half, say)
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
    if lux2:
        result["ratios"]["scaling"] = round(lux2["per_second"] / lux1["per_second"], 2)
        cpu1 = sum(v for k, v in lux1["cpu_cores"].items() if k.startswith("worker"))
        cpu2 = sum(v for k, v in lux2["cpu_cores"].items() if k.startswith("worker"))
        result["cpu_note"] = (f"{cpu1:.2f} → {cpu2:.2f} cores, machine {lux1['cpu_cores']['machine']:.2f} → "
                              f"{lux2['cpu_cores']['machine']:.2f} of {os.cpu_count()}; per worker-CPU-second "
                              f"{lux1['mentions_per_worker_cpu_second']} → {lux2['mentions_per_worker_cpu_second']}")
    rss = [v for run in result["luister"].values() for v in run["peak_rss_mb"].values()]
    result["worker_peak_rss_mb"] = max(rss + [result["latency"].get("peak_rss_mb", 0)])
    done = max(lux1["documents"][1] - lux1["documents"][0], 1)
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
