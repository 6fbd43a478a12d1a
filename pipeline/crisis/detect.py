"""Crisis detection for one brand, in stream time. Pure: state in, alerts out.

`Detector.observe(state, facts)` counts one mention into the brand's windows and returns the alerts it
causes; `Detector.advance(state, now)` moves stream time on (closing minutes, learning the baseline,
resolving). `BrandState` is plain data with a compact JSON form, so the Faust wiring keeps it in a
table keyed by brand. The method and its defaults are explained in docs/crisis.md.

Windows, per unit (the brand as a whole, topic '*', and each topic of the brand), split by sentiment:
* buckets of `bucket_seconds`; the *detect* window is the trailing `detect_window_seconds` of buckets
  ending at the mention (a hopping window whose step is one bucket) — it opens alerts;
* tumbling 1-minute windows close `allowed_lateness_seconds` after stream time passed them; each closed
  minute teaches the baseline and is judged by the *hop* window (the last `hop_window_minutes`
  minutes, step one minute), which resolves alerts.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipeline.crisis.baseline import SeriesBaseline, UnitBaseline, hour_of_week
from pipeline.crisis.settings import CrisisSettings
from pipeline.crisis.stats import binom_sf, quasi_poisson_sf
from pipeline.crisis.topics import BRAND_TOPIC, topics_of
from schemas import Alert, AlertKind, AlertStatus, ClassifiedMention

MAX_GAP_SECONDS = 7 * 24 * 3600  # a longer silence is not replayed minute by minute
EXAMPLES_KEPT = 15  # the latest negative or severe mentions, to pick evidence from
MENTION_IDS_KEPT = 50
SENTIMENTS = ("negative", "neutral", "positive")
FLAG_ORDER = ("legal_threat", "safety", "data_leak", "press", "claim", "influencer")


@dataclass(frozen=True)
class Facts:
    """The part of a classified mention that detection looks at."""

    id: str
    brand: str
    ts: float  # created_at, epoch seconds: stream time
    sentiment: str
    severity: int = 0
    flags: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    text: str = ""
    url: str | None = None
    source: str = ""
    author: str = ""
    followers: int = 0
    customer_id: str = ""
    repeated_sources: tuple[str, ...] = ()  # set by the triage enricher when the story crossed sites

    @classmethod
    def from_mention(cls, m: ClassifiedMention, cfg: CrisisSettings) -> "Facts":
        flags = tuple(name for name, on in m.flags.model_dump().items() if on)
        repeated = getattr(m, "repeated_negativity", None)  # the triage enricher's verdict, when present
        handles = [m.matched_keyword] if m.matched_keyword else []
        return cls(
            id=m.id, brand=m.brand, ts=m.created_at.timestamp(), sentiment=m.sentiment.value, severity=m.severity,
            flags=flags,
            topics=tuple(topics_of(m.text, m.brand, cfg.topic_keywords, limit=cfg.max_topics_per_mention,
                                   brand_handles=handles)),
            text=m.text, url=m.url, source=m.source.value, author=m.author.handle,
            followers=m.author.followers or 0, customer_id=m.customer_id,
            repeated_sources=tuple(sorted(set(repeated.sources))) if repeated is not None else (),
        )


@dataclass
class Unit:
    baseline: UnitBaseline
    buckets: dict[int, list[int]] = field(default_factory=dict)  # bucket start -> [negative, neutral, positive]
    last_seen: float = 0.0


@dataclass
class Incident:
    id: str
    kind: str
    brand: str
    topic: str | None
    opened_at: float
    updated_at: float
    severity: int
    summary: str
    sequence: int = 0
    mention_ids: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    peak: float = 0.0  # largest detect-window count seen (surge) / mentions or sites seen (others)
    notified_peak: float = 0.0
    notified_at: float = 0.0
    last_signal_at: float = 0.0
    quiet_minutes: int = 0
    pending: bool = False  # something new that an update has not told yet


@dataclass
class BrandState:
    brand: str
    watermark: float | None = None  # the latest stream time seen for this brand
    closed_until: int | None = None  # start of the first minute not yet closed
    units: dict[str, Unit] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    cooldowns: dict[str, float] = field(default_factory=dict)  # dedupe key -> resolved at
    examples: list[dict[str, Any]] = field(default_factory=list)
    late: int = 0  # mentions older than the closed minutes: not counted in the windows
    suppressed: int = 0  # signals swallowed by a cool-down
    offset: int = -1  # the last by-brand offset applied (the wiring skips a replayed batch)
    max_lag: float = 0.0  # the furthest behind stream time a mention arrived, in seconds

    # --- compact JSON form (the Faust table's value)
    def to_json(self) -> dict[str, Any]:
        return {
            "brand": self.brand, "watermark": self.watermark, "closed_until": self.closed_until,
            "units": {name: [u.baseline.negative.to_json(), u.baseline.total.to_json(),
                             {str(b): c for b, c in u.buckets.items()}, u.last_seen]
                      for name, u in self.units.items()},
            "incidents": {k: asdict(i) for k, i in self.incidents.items()},
            "cooldowns": self.cooldowns, "examples": self.examples, "late": self.late,
            "suppressed": self.suppressed, "offset": self.offset, "max_lag": self.max_lag,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "BrandState":
        units = {name: Unit(UnitBaseline(SeriesBaseline.from_json(neg), SeriesBaseline.from_json(tot)),
                            {int(b): list(c) for b, c in buckets.items()}, last_seen)
                 for name, (neg, tot, buckets, last_seen) in data["units"].items()}
        return cls(brand=data["brand"], watermark=data["watermark"], closed_until=data["closed_until"], units=units,
                   incidents={k: Incident(**v) for k, v in data["incidents"].items()},
                   cooldowns=dict(data["cooldowns"]), examples=list(data["examples"]), late=data["late"],
                   suppressed=data["suppressed"], offset=data.get("offset", -1), max_lag=data.get("max_lag", 0.0))


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


def _iso(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _stamp(ts: float) -> str:
    return _iso(ts).strftime("%Y%m%dT%H%M%SZ")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "#@._-" else "-" for ch in text)[:80]


class Detector:
    def __init__(self, cfg: CrisisSettings):
        self.cfg = cfg
        self.bs = cfg.bucket_seconds
        self.window_buckets = cfg.detect_window_seconds // cfg.bucket_seconds
        self.keep_seconds = cfg.hop_window_minutes * 60 + cfg.detect_window_seconds

    # ------------------------------------------------------------------ entry points
    def observe(self, state: BrandState, f: Facts) -> list[Alert]:
        """Count one mention in and return the alerts it opens, updates (or that stream time resolves)."""
        cfg = self.cfg
        alerts: list[Alert] = []
        if state.closed_until is None:
            state.closed_until = self._minute(f.ts - cfg.allowed_lateness_seconds)
        if state.watermark is None or f.ts > state.watermark:
            alerts += self.advance(state, f.ts)
        else:
            state.max_lag = max(state.max_lag, round(state.watermark - f.ts, 3))
        if f.sentiment == "negative" or f.severity >= cfg.severe_min_severity:
            self._keep_example(state, f)
        if f.severity >= cfg.severe_min_severity:
            alerts += self._severe(state, f)
        if len(f.repeated_sources) >= cfg.repeat_min_sources:
            alerts += self._repeated(state, f)
        if f.ts < state.closed_until:
            state.late += 1
            return alerts
        units = [BRAND_TOPIC, *f.topics]
        slot = SENTIMENTS.index(f.sentiment) if f.sentiment in SENTIMENTS else 1
        bucket = int(f.ts // self.bs) * self.bs
        for name in units:
            unit = self._unit(state, name, f.ts)
            counts = unit.buckets.setdefault(bucket, [0, 0, 0, 0.0])
            counts[slot] += 1
            if slot == 0:
                counts[3] = max(counts[3], round(f.ts, 3))
            unit.last_seen = max(unit.last_seen, f.ts)
        if f.sentiment == "negative":
            assert state.watermark is not None
            signals = [self._judge(state.units[name], name, f.ts, state.watermark) for name in units]
            alerts += self._surge(state, signals)
        return alerts

    def advance(self, state: BrandState, now: float) -> list[Alert]:
        """Move stream time to `now`: close minutes, learn, resolve, send pending updates."""
        cfg = self.cfg
        alerts: list[Alert] = []
        if state.closed_until is None:
            state.closed_until = self._minute(now - cfg.allowed_lateness_seconds)
        state.watermark = now if state.watermark is None else max(state.watermark, now)
        target = self._minute(now - cfg.allowed_lateness_seconds)
        if target - state.closed_until > MAX_GAP_SECONDS:
            state.closed_until = target - MAX_GAP_SECONDS
        while state.closed_until < target:
            alerts += self._close_minute(state, state.closed_until)
            state.closed_until += 60
        alerts += self._timeouts(state, now)
        return alerts

    def snapshot(self, state: BrandState) -> dict[str, Any]:
        """The brand's windows and baselines at its stream time, for people (the worker's /crisis page)."""
        if state.watermark is None:
            return {"brand": state.brand, "units": {}}
        now = state.watermark
        last = int(now // self.bs) * self.bs
        minute = self._minute(now)
        units = {}
        for name, unit in state.units.items():
            exp = unit.baseline.negative.expected(now, self.cfg)
            units[name] = {
                "detect_window": dict(zip(SENTIMENTS, self._sum(unit, last - (self.window_buckets - 1) * self.bs,
                                                                 last), strict=True)),
                "current_minute": dict(zip(SENTIMENTS, self._sum(unit, minute, minute + 60 - self.bs), strict=True)),
                "hop_window": dict(zip(SENTIMENTS, self._hop(unit, minute - 60)[0], strict=True)),
                "expected_negative_per_minute": round(exp.rate_per_minute, 3), "baseline_source": exp.source,
                "minutes_learned": unit.baseline.negative.minutes,
            }
        return {"brand": state.brand, "stream_time": _iso(now).isoformat(),
                "closed_until": _iso(state.closed_until).isoformat() if state.closed_until else None,
                "open_alerts": sorted(i.id for i in state.incidents.values()), "late_mentions": state.late,
                "max_lag_seconds": state.max_lag, "units": units}

    # ------------------------------------------------------------------ windows
    @staticmethod
    def _minute(ts: float) -> int:
        return int(ts // 60) * 60

    def _unit(self, state: BrandState, name: str, ts: float) -> Unit:
        unit = state.units.get(name)
        if unit is None:
            if name != BRAND_TOPIC:
                self._make_room_for_topic(state)
            unit = state.units[name] = Unit(UnitBaseline.new(seasonal=name == BRAND_TOPIC), last_seen=ts)
        return unit

    def _make_room_for_topic(self, state: BrandState) -> None:
        topics = [n for n in state.units if n != BRAND_TOPIC]
        busy = {i.topic for i in state.incidents.values()}
        while len(topics) >= self.cfg.max_topics_per_brand and topics:
            idle = [n for n in topics if n not in busy] or topics
            oldest = min(idle, key=lambda n: state.units[n].last_seen)
            del state.units[oldest]
            topics.remove(oldest)

    def _sum(self, unit: Unit, first: int, last: int) -> list[int]:
        """Counts of the buckets starting in [first, last]."""
        out = [0, 0, 0]
        for b in range(first, last + 1, self.bs):
            c = unit.buckets.get(b)
            if c:
                out[0] += c[0]
                out[1] += c[1]
                out[2] += c[2]
        return out

    def _judge(self, unit: Unit, name: str, ts: float, watermark: float) -> Signal:
        """Judge every detect window that holds the mention's bucket (up to stream time).

        A mention can arrive after later ones (partitions are read at different speeds), so the windows
        ending after its bucket may be the ones it completes. The earliest window that fires wins; with
        none, the latest one is reported.
        """
        first_end = int(ts // self.bs) * self.bs
        last_end = min(first_end + (self.window_buckets - 1) * self.bs, int(watermark // self.bs) * self.bs)
        peak, latest = 0, None
        for end in range(first_end, last_end + 1, self.bs):
            signal = self._judge_window(unit, name, end)
            peak = max(peak, signal.negative)
            if signal.test:
                signal.peak = peak
                return signal
            latest = signal
        assert latest is not None
        latest.peak = peak
        return latest

    def _judge_window(self, unit: Unit, name: str, end: int) -> Signal:
        """The detect window whose last bucket starts at `end`."""
        cfg = self.cfg
        first = end - (self.window_buckets - 1) * self.bs
        counts = self._sum(unit, first, end)
        at = max((unit.buckets[b][3] for b in range(first, end + 1, self.bs)
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
            share = self._usual_share(unit)
            if share is not None and n >= cfg.share_min_total and k >= cfg.min_count \
                    and k / n >= share + cfg.share_min_delta:
                p_share = binom_sf(k, n, share)
                if p_share <= cfg.p_open:
                    test, p = "share", p_share
        return Signal(name, counts, mu, exp.rate_per_minute, exp.source, exp.dispersion, exp.hour_of_week, p, ratio,
                      test, at=at, end=end)

    def _usual_share(self, unit: Unit) -> float | None:
        if unit.baseline.total.minutes < self.cfg.cold_start_minutes:
            return None
        return unit.baseline.negative_share()

    # ------------------------------------------------------------------ negative_surge
    def _surge(self, state: BrandState, signals: list[Signal]) -> list[Alert]:
        cfg = self.cfg
        key = f"{AlertKind.negative_surge.value}|{state.brand}"
        brand_signal = signals[0]
        fired = [s for s in signals if s.test]
        inc = state.incidents.get(key)
        if inc is None:
            if not fired:
                return []
            lead = min(fired, key=lambda s: (s.at, -s.ratio))
            ts = lead.at
            if ts - state.cooldowns.get(key, -math.inf) < cfg.cooldown_seconds:
                state.suppressed += 1
                return []
            topic = self._leading_topic(state, lead.end, brand_signal.negative) or (
                lead.topic if lead.topic != BRAND_TOPIC else None)
            inc = Incident(id=f"{AlertKind.negative_surge.value}:{_safe(state.brand)}:{_safe(topic or BRAND_TOPIC)}:"
                              f"{_stamp(ts)}",
                           kind=AlertKind.negative_surge.value, brand=state.brand, topic=topic, opened_at=ts,
                           updated_at=ts, severity=self._surge_severity(fired), summary="",
                           peak=brand_signal.peak, notified_peak=brand_signal.peak, notified_at=ts, last_signal_at=ts)
            state.incidents[key] = inc
            self._surge_evidence(state, inc, lead, brand_signal)
            inc.summary = self._surge_summary(inc, lead, "")
            return [self._alert(inc, AlertStatus.open)]
        ts = max(inc.updated_at, max(s.at for s in signals))
        if fired:
            inc.last_signal_at = ts
        inc.peak = max(inc.peak, brand_signal.peak)
        severity = max(inc.severity, self._surge_severity(fired))
        grown = brand_signal.peak >= inc.notified_peak * cfg.escalation_factor
        if severity > inc.severity or (grown and ts - inc.notified_at >= cfg.update_interval_seconds):
            lead = max(fired or [brand_signal], key=lambda s: (s.ratio, -s.p_value))
            inc.severity = severity
            inc.notified_peak, inc.notified_at, inc.updated_at = brand_signal.peak, ts, ts
            inc.sequence += 1
            self._surge_evidence(state, inc, lead, brand_signal)
            inc.summary = self._surge_summary(inc, lead, "growing: ")
            return [self._alert(inc, AlertStatus.update)]
        return []

    def _surge_severity(self, fired: list[Signal]) -> int:
        cfg = self.cfg
        critical = any(s.ratio >= cfg.critical_ratio and s.negative >= 2 * cfg.min_count for s in fired)
        return 3 if critical else 2

    def _leading_topic(self, state: BrandState, last: int, brand_negative: int) -> str | None:
        """The topic that carries at least half of the brand's negative mentions in the detect window."""
        first = last - (self.window_buckets - 1) * self.bs
        best, best_count = None, 0
        for name, unit in state.units.items():
            if name == BRAND_TOPIC:
                continue
            neg = self._sum(unit, first, last)[0]
            if neg > best_count:
                best, best_count = name, neg
        return best if best and 2 * best_count >= brand_negative else None

    def _surge_evidence(self, state: BrandState, inc: Incident, lead: Signal, brand: Signal) -> None:
        cfg = self.cfg
        ts, last = lead.at, lead.end
        first = last - (self.window_buckets - 1) * self.bs
        topics = {name: self._sum(u, first, last)[0] for name, u in state.units.items() if name != BRAND_TOPIC}
        top_topics = dict(sorted(((n, c) for n, c in topics.items() if c), key=lambda x: -x[1])[:5])
        examples = self._examples(state, ts - cfg.hop_window_minutes * 60, ts, topic=inc.topic)
        inc.evidence = {
            "signal": lead.as_evidence(cfg.detect_window_seconds),
            "brand": brand.as_evidence(cfg.detect_window_seconds),
            "topics": top_topics,
            "peak_negative": int(inc.peak),
            "examples": examples,
            "links": [e["url"] for e in examples if e.get("url")],
            "stream_time": _iso(ts).isoformat(),
            "late_mentions": state.late,
            "max_lag_seconds": state.max_lag,
        }
        inc.mention_ids = [e["id"] for e in examples]

    def _surge_summary(self, inc: Incident, lead: Signal, prefix: str) -> str:
        about = f" about {inc.topic}" if inc.topic else ""
        test = "negative share" if lead.test == "share" else "negative mentions"
        return (f"Negative surge for {inc.brand}{about}: {prefix}{lead.negative} {test} in the last "
                f"{self.cfg.detect_window_seconds}s where {lead.expected:.1f} are usual "
                f"({lead.ratio:.1f}x, p={lead.p_value:.1g})")

    def _close_minute(self, state: BrandState, start: int) -> list[Alert]:
        """Tumbling minute `start` is final: learn it, judge the hop window, forget old buckets."""
        cfg = self.cfg
        alerts: list[Alert] = []
        key = f"{AlertKind.negative_surge.value}|{state.brand}"
        inc = state.incidents.get(key)
        frozen = inc is not None and start - inc.opened_at < cfg.freeze_max_minutes * 60
        slot_ts = start + 30
        for name, unit in list(state.units.items()):
            if not frozen:
                neg, neu, pos = self._sum(unit, start, start + 60 - self.bs)
                unit.baseline.learn(neg, neg + neu + pos, hour_of_week(slot_ts), cfg)
            horizon = start + 60 - self.keep_seconds
            for b in [b for b in unit.buckets if b < horizon]:
                del unit.buckets[b]
            if name != BRAND_TOPIC and not unit.buckets and start - unit.last_seen > cfg.topic_ttl_minutes * 60 \
                    and not any(i.topic == name for i in state.incidents.values()):
                del state.units[name]
        if inc is not None and start >= inc.opened_at:  # only minutes after it opened can end it
            alerts += self._maybe_resolve_surge(state, key, inc, start)
        return alerts

    def _hop(self, unit: Unit, start: int) -> tuple[list[int], float, float]:
        """Counts of the hop window ending with minute `start`, the negatives expected, the dispersion."""
        cfg = self.cfg
        first = start - (cfg.hop_window_minutes - 1) * 60
        counts = self._sum(unit, first, start + 60 - self.bs)
        exp = unit.baseline.negative.expected(start + 30, cfg)
        return counts, exp.rate_per_minute * cfg.hop_window_minutes, exp.dispersion

    def _maybe_resolve_surge(self, state: BrandState, key: str, inc: Incident, start: int) -> list[Alert]:
        cfg = self.cfg
        names = [BRAND_TOPIC] + ([inc.topic] if inc.topic in state.units else [])
        quiet = True
        detail: dict[str, Any] = {}
        for name in names:
            unit = state.units[name]
            counts, mu, phi = self._hop(unit, start)
            k, n = counts[0], sum(counts)
            p = quasi_poisson_sf(k, mu, phi)
            share = self._usual_share(unit)
            p_share = binom_sf(k, n, share) if share is not None and n >= cfg.share_min_total else 1.0
            quiet = quiet and p >= cfg.p_resolve and p_share >= cfg.p_resolve
            detail[name] = {"negative": k, "total": n, "expected_negative": round(mu, 2), "p_value": float(f"{p:.3g}")}
        inc.quiet_minutes = inc.quiet_minutes + 1 if quiet else 0
        if inc.quiet_minutes < cfg.resolve_minutes:
            return []
        end = start + 60
        brand = detail[BRAND_TOPIC]
        inc.summary = (f"Negative surge for {inc.brand}{f' about {inc.topic}' if inc.topic else ''} resolved: "
                       f"{brand['negative']} negative mentions in the last {cfg.hop_window_minutes} min, "
                       f"{brand['expected_negative']:.1f} usual")
        inc.evidence = {**inc.evidence, "resolve": {"hop_window_minutes": cfg.hop_window_minutes, "units": detail}}
        return [self._resolve(state, key, inc, end)]

    # ------------------------------------------------------------------ severe_mention
    def _severe(self, state: BrandState, f: Facts) -> list[Alert]:
        cfg = self.cfg
        topic = next((flag for flag in FLAG_ORDER if flag in f.flags), f.flags[0] if f.flags else "severity")
        key = f"{AlertKind.severe_mention.value}|{state.brand}|{topic}"
        inc = state.incidents.get(key)
        if inc is None:
            if f.ts - state.cooldowns.get(key, -math.inf) < cfg.severe_cooldown_seconds:
                state.suppressed += 1
                return []
            inc = Incident(id=f"severe_mention:{_safe(state.brand)}:{_safe(topic)}:{_stamp(f.ts)}",
                           kind=AlertKind.severe_mention.value, brand=state.brand, topic=topic, opened_at=f.ts,
                           updated_at=f.ts, severity=3, summary="", peak=1, notified_peak=1, notified_at=f.ts,
                           last_signal_at=f.ts, mention_ids=[f.id])
            state.incidents[key] = inc
            self._severe_evidence(state, inc, f)
            return [self._alert(inc, AlertStatus.open)]
        if f.id in inc.mention_ids:
            return []  # a replayed mention
        inc.mention_ids = (inc.mention_ids + [f.id])[-MENTION_IDS_KEPT:]
        inc.peak += 1
        inc.last_signal_at = max(inc.last_signal_at, f.ts)
        self._severe_evidence(state, inc, f)
        inc.pending = True
        return self._flush_pending(inc, f.ts, cfg.severe_update_interval_seconds)

    def _severe_evidence(self, state: BrandState, inc: Incident, f: Facts) -> None:
        examples = self._examples(state, inc.opened_at, f.ts, severe=True)
        count = int(inc.peak)
        inc.summary = (f"Severe mention about {inc.brand} ({inc.topic}): \"{f.text[:160]}\" by @{f.author} "
                       f"({f.followers} followers) on {f.source}"
                       + (f"; {count} severe mentions since {_iso(inc.opened_at):%H:%M} UTC" if count > 1 else ""))
        inc.evidence = {"severe_mentions": count, "flags": list(f.flags), "latest": _example(f),
                        "examples": examples, "links": [e["url"] for e in examples if e.get("url")],
                        "stream_time": _iso(f.ts).isoformat()}

    # ------------------------------------------------------------------ repeated_negativity_spreading
    def _repeated(self, state: BrandState, f: Facts) -> list[Alert]:
        cfg = self.cfg
        key = f"{AlertKind.repeated_negativity_spreading.value}|{state.brand}|{f.customer_id}"
        inc = state.incidents.get(key)
        sites = len(f.repeated_sources)
        if inc is None:
            if f.ts - state.cooldowns.get(key, -math.inf) < cfg.repeat_cooldown_seconds:
                state.suppressed += 1
                return []
            severity = 2 if f.followers >= 10_000 or "influencer" in f.flags else 1
            inc = Incident(id=f"repeated_negativity_spreading:{_safe(state.brand)}:{_safe(f.customer_id)}:"
                              f"{_stamp(f.ts)}", kind=AlertKind.repeated_negativity_spreading.value,
                           brand=state.brand, topic=f.customer_id, opened_at=f.ts, updated_at=f.ts, severity=severity,
                           summary="", peak=sites, notified_peak=sites, notified_at=f.ts, last_signal_at=f.ts,
                           mention_ids=[f.id])
            state.incidents[key] = inc
            self._repeated_evidence(inc, f)
            return [self._alert(inc, AlertStatus.open)]
        inc.last_signal_at = max(inc.last_signal_at, f.ts)
        if f.id not in inc.mention_ids:
            inc.mention_ids = (inc.mention_ids + [f.id])[-MENTION_IDS_KEPT:]
        if sites > inc.notified_peak:  # the story reached another site
            inc.peak = inc.notified_peak = sites
            inc.notified_at = inc.updated_at = f.ts
            inc.sequence += 1
            self._repeated_evidence(inc, f)
            return [self._alert(inc, AlertStatus.update)]
        return []

    def _repeated_evidence(self, inc: Incident, f: Facts) -> None:
        inc.summary = (f"@{f.author} spreads one negative story about {inc.brand} across {len(f.repeated_sources)} "
                       f"sites ({', '.join(f.repeated_sources)}): \"{f.text[:160]}\"")
        inc.evidence = {"customer_id": f.customer_id, "sites": list(f.repeated_sources),
                        "mentions": len(inc.mention_ids), "latest": _example(f),
                        "links": [f.url] if f.url else [], "stream_time": _iso(f.ts).isoformat()}

    # ------------------------------------------------------------------ lifecycle helpers
    def _timeouts(self, state: BrandState, now: float) -> list[Alert]:
        """Pending updates whose interval passed; severe and repeated alerts gone quiet."""
        cfg = self.cfg
        alerts: list[Alert] = []
        for key, inc in list(state.incidents.items()):
            if inc.kind == AlertKind.severe_mention.value:
                alerts += self._flush_pending(inc, now, cfg.severe_update_interval_seconds)
                quiet_for = cfg.severe_resolve_after_minutes * 60
            elif inc.kind == AlertKind.repeated_negativity_spreading.value:
                quiet_for = cfg.repeat_resolve_after_hours * 3600
            else:
                continue
            if now - inc.last_signal_at >= quiet_for:
                inc.summary = f"{inc.summary.split(':')[0]} resolved: quiet for {quiet_for / 60:.0f} min"
                alerts.append(self._resolve(state, key, inc, inc.last_signal_at + quiet_for))
        longest = max(cfg.cooldown_seconds, cfg.severe_cooldown_seconds, cfg.repeat_cooldown_seconds)
        for key in [k for k, t in state.cooldowns.items() if now - t > longest + cfg.allowed_lateness_seconds]:
            del state.cooldowns[key]
        return alerts

    def _flush_pending(self, inc: Incident, now: float, interval: float) -> list[Alert]:
        if not inc.pending or now - inc.notified_at < interval:
            return []
        inc.pending = False
        inc.notified_at = inc.updated_at = max(now, inc.updated_at)
        inc.notified_peak = inc.peak
        inc.sequence += 1
        return [self._alert(inc, AlertStatus.update)]

    def _resolve(self, state: BrandState, key: str, inc: Incident, at: float) -> Alert:
        del state.incidents[key]
        state.cooldowns[key] = at
        inc.sequence += 1
        inc.updated_at = max(inc.updated_at, at)
        return self._alert(inc, AlertStatus.resolved, resolved_at=inc.updated_at)

    def _alert(self, inc: Incident, status: AlertStatus, resolved_at: float | None = None) -> Alert:
        evidence = dict(inc.evidence)
        if self.cfg.alert_link_template:
            evidence["alert_url"] = self.cfg.alert_link_template.format(id=inc.id, brand=inc.brand)
        return Alert(id=inc.id, kind=AlertKind(inc.kind), status=status, brand=inc.brand, topic=inc.topic,
                     severity=inc.severity, summary=inc.summary[:2000], opened_at=_iso(inc.opened_at),
                     updated_at=_iso(inc.updated_at), resolved_at=_iso(resolved_at) if resolved_at else None,
                     mention_ids=list(inc.mention_ids), evidence=evidence, sequence=inc.sequence)

    # ------------------------------------------------------------------ examples
    def _keep_example(self, state: BrandState, f: Facts) -> None:
        state.examples.append({**_example(f), "ts": f.ts, "topics": list(f.topics), "severe": f.severity >= 3})
        if len(state.examples) > EXAMPLES_KEPT:
            del state.examples[: len(state.examples) - EXAMPLES_KEPT]

    def _examples(self, state: BrandState, since: float, until: float, *, topic: str | None = None,
                  severe: bool = False) -> list[dict[str, Any]]:
        chosen = [e for e in state.examples if since <= e["ts"] <= until and (not severe or e["severe"])]
        if topic:
            on_topic = [e for e in chosen if topic in e["topics"]]
            chosen = on_topic or chosen
        chosen.sort(key=lambda e: (-e["followers"], -e["ts"]))
        return [{k: v for k, v in e.items() if k not in ("ts", "topics", "severe")}
                for e in chosen[: self.cfg.examples]]


def _example(f: Facts) -> dict[str, Any]:
    return {"id": f.id, "url": f.url, "text": f.text[:280], "source": f.source, "author": f.author,
            "followers": f.followers, "created_at": _iso(f.ts).isoformat()}
