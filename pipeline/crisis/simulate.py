"""Replay a stream through the detector offline, as the worker would: for calibration and tests.

`classify` runs the pipeline's own classifier (no broker); `replay` feeds the mentions in order,
one `BrandState` per brand, and moves every brand's stream time on once a minute, like the worker's
per-partition tick. Nothing here touches Kafka or the wall clock.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.settings.crisis import CrisisSettings
from pipeline.crisis.detect import BrandState, Detector, Facts
from schemas import Alert, ClassifiedMention, RawMention


def classify(raw: Sequence[RawMention], batch: int = 512) -> list[ClassifiedMention]:
    from classifiers.registry import load_classifier
    from pipeline.classify import classified, texts_and_languages

    clf = load_classifier("baseline")
    out: list[ClassifiedMention] = []
    for i in range(0, len(raw), batch):
        chunk = list(raw[i:i + batch])
        texts, langs = texts_and_languages(chunk)
        for m, result in zip(chunk, clf.classify_batch(texts, langs), strict=True):
            out.append(classified(m, result, model_version=clf.model_version, processed_at=m.created_at))
    return out


@dataclass
class Replay:
    cfg: CrisisSettings
    states: dict[str, BrandState] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.detector = Detector(self.cfg)
        self._last_tick: float | None = None

    def feed(self, mentions: Iterable[ClassifiedMention], *, tick_seconds: float = 60.0) -> list[Alert]:
        for m in mentions:
            facts = Facts.from_mention(m, self.cfg)
            state = self.states.setdefault(m.brand, BrandState(m.brand))
            self.alerts += self.detector.observe(state, facts)
            if self._last_tick is None or facts.ts - self._last_tick >= tick_seconds:
                self.tick(facts.ts)
        return self.alerts

    def tick(self, now: float) -> None:
        self._last_tick = now
        for state in self.states.values():
            self.alerts += self.detector.advance(state, now)

    def finish(self, after_seconds: float) -> list[Alert]:
        """Let stream time run on past the last mention (an idle stream), e.g. to see resolves."""
        if self._last_tick is not None:
            self.tick(self._last_tick + after_seconds)
        return self.alerts


def ts(when: datetime) -> float:
    return when.astimezone(timezone.utc).timestamp()
