"""Reuse the answer for a text seen lately (a retweet, a copy-paste campaign).

A classifier is pure, so each batch sends only its new, distinct (text, language) pairs to the
model. Bounded LRU, shared by the batches in flight (the model runs outside its lock)."""
from __future__ import annotations

from collections.abc import Sequence

from classifiers.base import Classification, Classifier
from core import metrics
from core.lru import LRU


class RecentTexts:
    def __init__(self, classifier: Classifier, size: int):
        self.classifier = classifier
        self._seen: LRU[tuple[str, str | None], Classification] = LRU(size)

    def classify_batch(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Classification]:
        keys = list(zip(texts, languages))
        known = self._seen.get_many(keys)
        new = list(dict.fromkeys(k for k in keys if k not in known))
        metrics.CLASSIFY_CACHE.labels(outcome="hit").inc(len(keys) - len(new))
        metrics.CLASSIFY_CACHE.labels(outcome="miss").inc(len(new))
        if new:
            fresh = list(zip(new, self.classifier.classify_batch([t for t, _ in new], [lang for _, lang in new])))
            known.update(fresh)
            self._seen.put_many(fresh)
        return [known[key] for key in keys]
