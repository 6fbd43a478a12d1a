"""The windows of one unit (the brand as a whole, topic '*', or one of its topics), split by sentiment. Pure.

A `Unit` keeps its mention counts in buckets of `bucket_seconds` next to its baseline. The *detect* window
is the trailing `detect_window_seconds` of buckets ending at a mention (a hopping window whose step is one
bucket): `judge` tests it against the baseline and returns a `Signal`, which opens alerts. Tumbling 1-minute
windows close `allowed_lateness_seconds` after stream time passed them; each closed minute teaches the
baseline and is judged by the *hop* window (the last `hop_window_minutes` minutes, step one minute), which
resolves alerts. The bucket arithmetic lives here so that the detector reads as rules about alerts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.settings.crisis import CrisisSettings
from pipeline.crisis.baseline import UnitBaseline
from pipeline.crisis.stats import binom_sf, quasi_poisson_sf

SENTIMENTS = ("negative", "neutral", "positive")


@dataclass
class Unit:
    baseline: UnitBaseline
    # bucket start -> [negative, neutral, positive, stream time of its latest negative mention]
    buckets: dict[int, list[int]] = field(default_factory=dict)
    last_seen: float = 0.0


@dataclass
class Signal:
    """A unit's detect window judged against its baseline."""

    topic: str
    counts: list[int]  # negative, neutral, positive
    expected: float  # negative mentions expected in the window
    rate_per_minute: float
    source: str
    dispersion: float
    hour_of_week: int
    p_value: float
    ratio: float
    test: str | None  # "volume", "share" or None (no surge)
    at: float = 0.0  # stream time the window reached its count: its latest negative mention
    end: int = 0  # start of the window's last bucket
    peak: int = 0  # the most negative mentions in any of the windows judged with it

    @property
    def negative(self) -> int:
        return self.counts[0]

    def as_evidence(self, window_seconds: int) -> dict[str, Any]:
        neg, neu, pos = self.counts
        return {"topic": self.topic, "window_seconds": window_seconds, "negative": neg, "neutral": neu,
                "positive": pos, "total": neg + neu + pos, "expected_negative": round(self.expected, 2),
                "ratio": round(self.ratio, 2), "p_value": float(f"{self.p_value:.3g}"), "test": self.test,
                "baseline": {"rate_per_minute": round(self.rate_per_minute, 3), "source": self.source,
                             "dispersion": round(self.dispersion, 2), "hour_of_week": self.hour_of_week}}


def minute_start(ts: float) -> int:
    return int(ts // 60) * 60


def bucket_start(ts: float, cfg: CrisisSettings) -> int:
    return int(ts // cfg.bucket_seconds) * cfg.bucket_seconds


def _detect_window_span(cfg: CrisisSettings) -> int:
    """Seconds from the start of a detect window's first bucket to the start of its last."""
    return (cfg.detect_window_seconds // cfg.bucket_seconds - 1) * cfg.bucket_seconds


def detect_window_first(last: int, cfg: CrisisSettings) -> int:
    """Start of the first bucket of the detect window whose last bucket starts at `last`."""
    return last - _detect_window_span(cfg)


def count_mention(unit: Unit, ts: float, sentiment: str, cfg: CrisisSettings) -> None:
    slot = SENTIMENTS.index(sentiment) if sentiment in SENTIMENTS else 1
    counts = unit.buckets.setdefault(bucket_start(ts, cfg), [0, 0, 0, 0.0])
    counts[slot] += 1
    if slot == 0:
        counts[3] = max(counts[3], round(ts, 3))
    unit.last_seen = max(unit.last_seen, ts)


def window_counts(unit: Unit, first: int, last: int, cfg: CrisisSettings) -> list[int]:
    """Counts of the buckets starting in [first, last]."""
    out = [0, 0, 0]
    for b in range(first, last + 1, cfg.bucket_seconds):
        c = unit.buckets.get(b)
        if c:
            out[0] += c[0]
            out[1] += c[1]
            out[2] += c[2]
    return out


def minute_counts(unit: Unit, start: int, cfg: CrisisSettings) -> list[int]:
    """Counts of the tumbling minute `start`."""
    return window_counts(unit, start, start + 60 - cfg.bucket_seconds, cfg)


def hop_window(unit: Unit, start: int, cfg: CrisisSettings) -> tuple[list[int], float, float]:
    """Counts of the hop window ending with minute `start`, the negatives expected, the dispersion."""
    first = start - (cfg.hop_window_minutes - 1) * 60
    counts = window_counts(unit, first, start + 60 - cfg.bucket_seconds, cfg)
    exp = unit.baseline.negative.expected(start + 30, cfg)
    return counts, exp.rate_per_minute * cfg.hop_window_minutes, exp.dispersion


def forget_old_buckets(unit: Unit, minute: int, cfg: CrisisSettings) -> None:
    """Once minute `minute` closed, no hop or detect window will read buckets this old again."""
    horizon = minute + 60 - (cfg.hop_window_minutes * 60 + cfg.detect_window_seconds)
    for b in [b for b in unit.buckets if b < horizon]:
        del unit.buckets[b]


def judge(unit: Unit, name: str, ts: float, watermark: float, cfg: CrisisSettings) -> Signal:
    """Judge every detect window that holds the mention's bucket (up to stream time).

    A mention can arrive after later ones (partitions are read at different speeds), so the windows
    ending after its bucket may be the ones it completes. The earliest window that fires wins; with
    none, the latest one is reported.
    """
    first_end = bucket_start(ts, cfg)
    last_end = min(first_end + _detect_window_span(cfg), bucket_start(watermark, cfg))
    peak, latest = 0, None
    for end in range(first_end, last_end + 1, cfg.bucket_seconds):
        signal = judge_window(unit, name, end, cfg)
        peak = max(peak, signal.negative)
        if signal.test:
            signal.peak = peak
            return signal
        latest = signal
    assert latest is not None
    latest.peak = peak
    return latest


def judge_window(unit: Unit, name: str, end: int, cfg: CrisisSettings) -> Signal:
    """The detect window whose last bucket starts at `end`."""
    first = detect_window_first(end, cfg)
    counts = window_counts(unit, first, end, cfg)
    at = max((unit.buckets[b][3] for b in range(first, end + 1, cfg.bucket_seconds)
              if b in unit.buckets and unit.buckets[b][0]), default=float(end))
    exp = unit.baseline.negative.expected(at, cfg)
    mu = exp.rate_per_minute * cfg.detect_window_seconds / 60
    k, n = counts[0], sum(counts)
    p = quasi_poisson_sf(k, mu, exp.dispersion)
    ratio = k / mu
    test = None
    if k >= cfg.min_count and ratio >= cfg.min_ratio and p <= cfg.p_open:
        test = "volume"
    else:
        share = unit.baseline.usual_share(cfg)
        if share is not None and n >= cfg.share_min_total and k >= cfg.min_count \
                and k / n >= share + cfg.share_min_delta:
            p_share = binom_sf(k, n, share)
            if p_share <= cfg.p_open:
                test, p = "share", p_share
    return Signal(name, counts, mu, exp.rate_per_minute, exp.source, exp.dispersion, exp.hour_of_week, p, ratio,
                  test, at=at, end=end)
