"""The contract every mention classifier fulfils (baseline lexicon now, transformer later)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from schemas import MessageType, Sentiment


@dataclass(frozen=True, slots=True)
class Classification:
    type: MessageType
    type_scores: dict[MessageType, float]  # each in [0, 1]; they need not sum to 1
    sentiment: Sentiment
    sentiment_score: float  # -1 (very negative) .. +1 (very positive)
    language: str | None = None  # ISO 639-1 when the classifier detects it, else None


class Classifier(ABC):
    """Pure: the same texts give the same answers; no I/O after construction.

    `classify_batch` may be slow (a model): the pipeline calls it off the event loop.
    """

    name: str
    version: str

    @property
    def model_version(self) -> str:
        return f"{self.name}-{self.version}"

    @abstractmethod
    def classify_batch(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Classification]:
        """One Classification per text, in order. `languages` are hints (ISO 639-1) or None."""

    def classify(self, text: str, language: str | None = None) -> Classification:
        return self.classify_batch([text], [language])[0]
