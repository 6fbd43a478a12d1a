"""Pick a classifier by name (setting `classifier`), importing only what it needs."""
from __future__ import annotations

from classifiers.base import Classifier

AVAILABLE = ("baseline",)


def load_classifier(name: str) -> Classifier:
    if name == "baseline":
        from classifiers.baseline import BaselineClassifier

        return BaselineClassifier()
    raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(AVAILABLE)}")
