"""Pick a classifier by name (setting `classifier`), importing only what it needs.

- "transformer" (default): multilingual-e5-small + trained heads (classifiers/transformer.py);
  the setting `classifier_backend` picks how the encoder runs ("auto": as chosen at training).
- "baseline": the keyword/lexicon baseline (classifiers/baseline.py), kept for comparison.
"""
from __future__ import annotations

from classifiers.base import Classifier

AVAILABLE = ("transformer", "baseline")


def load_classifier(name: str, backend: str | None = None, threads: int | None = None) -> Classifier:
    """`threads`: the encoder's ONNX threads per call (default: the `classifier_threads` setting)."""
    if name == "baseline":
        from classifiers.baseline import BaselineClassifier

        return BaselineClassifier()
    if name == "transformer":
        from classifiers.transformer import TransformerClassifier
        from core.settings import get_settings

        settings = get_settings()
        return TransformerClassifier(backend=backend or settings.classifier_backend,
                                     threads=settings.classifier_threads if threads is None else threads)
    raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(AVAILABLE)}")
