"""Crisis detection for one brand, in stream time. Pure: state in, alerts out.

`Detector.observe(state, facts)` counts one mention into the brand's windows and returns the alerts it
causes; `Detector.advance(state, now)` moves stream time on (closing minutes, learning the baseline,
resolving). The detector holds the rules: when a window's signal opens, grows or resolves an alert and
when a cool-down swallows one. The windows are in `windows`, the incident lifecycle and `Alert` building
in `incidents`, the summary texts, examples and snapshot in `summaries`, and the per-brand `BrandState`
(plain data with a compact JSON form, kept by the Faust wiring in a table keyed by brand) in `state`.
The method and its defaults are explained in docs/crisis.md.
"""
from __future__ import annotations

import math
from typing import Any

from core.settings.crisis import CrisisSettings
from pipeline.crisis.baseline import UnitBaseline, hour_of_week
from pipeline.crisis.facts import Facts
from pipeline.crisis.incidents import (
    Incident,
    flush_pending,
    mark_notified,
    open_incident,
    remember_mention,
    resolve,
    to_alert,
)
from pipeline.crisis.state import BrandState
from pipeline.crisis.stats import binom_sf, quasi_poisson_sf
from pipeline.crisis.summaries import (
    describe_quiet_resolved,
    describe_repeated,
    describe_severe,
    describe_surge,
    describe_surge_resolved,
    keep_example,
    snapshot,
)
from pipeline.crisis.topics import BRAND_TOPIC
from pipeline.crisis.windows import (
    Signal,
    Unit,
    count_mention,
    detect_window_first,
    forget_old_buckets,
    hop_window,
    judge,
    minute_counts,
    minute_start,
    window_counts,
)
from schemas import Alert, AlertKind, AlertStatus

MAX_GAP_SECONDS = 7 * 24 * 3600  # a longer silence is not replayed minute by minute
FLAG_ORDER = ("legal_threat", "safety", "data_leak", "press", "claim", "influencer")


class Detector:
    def __init__(self, cfg: CrisisSettings):
        self.cfg = cfg

    # ------------------------------------------------------------------ entry points
    def observe(self, state: BrandState, f: Facts) -> list[Alert]:
        """Count one mention in and return the alerts it opens, updates (or that stream time resolves)."""
        cfg = self.cfg
        alerts: list[Alert] = []
        if state.closed_until is None:
            state.closed_until = minute_start(f.ts - cfg.allowed_lateness_seconds)
        if state.watermark is None or f.ts > state.watermark:
            alerts += self.advance(state, f.ts)
        else:
            state.max_lag = max(state.max_lag, round(state.watermark - f.ts, 3))
        if f.sentiment == "negative" or f.severity >= cfg.severe_min_severity:
            keep_example(state.examples, f)
        if f.severity >= cfg.severe_min_severity:
            alerts += self._severe(state, f)
        if len(f.repeated_sources) >= cfg.repeat_min_sources:
            alerts += self._repeated(state, f)
        if f.ts < state.closed_until:
            state.late += 1
            return alerts
        units = [BRAND_TOPIC, *f.topics]
        for name in units:
            count_mention(self._unit(state, name, f.ts), f.ts, f.sentiment, cfg)
        if f.sentiment == "negative":
            assert state.watermark is not None
            signals = [judge(state.units[name], name, f.ts, state.watermark, cfg) for name in units]
            alerts += self._surge(state, signals)
        return alerts

    def advance(self, state: BrandState, now: float) -> list[Alert]:
        """Move stream time to `now`: close minutes, learn, resolve, send pending updates."""
        cfg = self.cfg
        alerts: list[Alert] = []
        if state.closed_until is None:
            state.closed_until = minute_start(now - cfg.allowed_lateness_seconds)
        state.watermark = now if state.watermark is None else max(state.watermark, now)
        target = minute_start(now - cfg.allowed_lateness_seconds)
        if target - state.closed_until > MAX_GAP_SECONDS:
            state.closed_until = target - MAX_GAP_SECONDS
        while state.closed_until < target:
            alerts += self._close_minute(state, state.closed_until)
            state.closed_until += 60
        alerts += self._timeouts(state, now)
        return alerts

    def snapshot(self, state: BrandState) -> dict[str, Any]:
        """The brand's windows and baselines at its stream time, for people (the worker's /crisis page)."""
        return snapshot(state, self.cfg)

    # ------------------------------------------------------------------ units
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
            inc = open_incident(AlertKind.negative_surge, state.brand, topic, ts, subject=topic or BRAND_TOPIC,
                                severity=self._surge_severity(fired), peak=brand_signal.peak)
            state.incidents[key] = inc
            describe_surge(state, inc, lead, brand_signal, cfg)
            return [to_alert(inc, AlertStatus.open, cfg)]
        ts = max(inc.updated_at, max(s.at for s in signals))
        if fired:
            inc.last_signal_at = ts
        inc.peak = max(inc.peak, brand_signal.peak)
        severity = max(inc.severity, self._surge_severity(fired))
        grown = brand_signal.peak >= inc.notified_peak * cfg.escalation_factor
        if severity > inc.severity or (grown and ts - inc.notified_at >= cfg.update_interval_seconds):
            lead = max(fired or [brand_signal], key=lambda s: (s.ratio, -s.p_value))
            inc.severity = severity
            mark_notified(inc, ts, brand_signal.peak)
            describe_surge(state, inc, lead, brand_signal, cfg, growing=True)
            return [to_alert(inc, AlertStatus.update, cfg)]
        return []

    def _surge_severity(self, fired: list[Signal]) -> int:
        cfg = self.cfg
        critical = any(s.ratio >= cfg.critical_ratio and s.negative >= 2 * cfg.min_count for s in fired)
        return 3 if critical else 2

    def _leading_topic(self, state: BrandState, last: int, brand_negative: int) -> str | None:
        """The topic that carries at least half of the brand's negative mentions in the detect window."""
        first = detect_window_first(last, self.cfg)
        best, best_count = None, 0
        for name, unit in state.units.items():
            if name == BRAND_TOPIC:
                continue
            neg = window_counts(unit, first, last, self.cfg)[0]
            if neg > best_count:
                best, best_count = name, neg
        return best if best and 2 * best_count >= brand_negative else None

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
                neg, neu, pos = minute_counts(unit, start, cfg)
                unit.baseline.learn(neg, neg + neu + pos, hour_of_week(slot_ts), cfg)
            forget_old_buckets(unit, start, cfg)
            if name != BRAND_TOPIC and not unit.buckets and start - unit.last_seen > cfg.topic_ttl_minutes * 60 \
                    and not any(i.topic == name for i in state.incidents.values()):
                del state.units[name]
        if inc is not None and start >= inc.opened_at:  # only minutes after it opened can end it
            alerts += self._maybe_resolve_surge(state, key, inc, start)
        return alerts

    def _maybe_resolve_surge(self, state: BrandState, key: str, inc: Incident, start: int) -> list[Alert]:
        cfg = self.cfg
        names = [BRAND_TOPIC] + ([inc.topic] if inc.topic in state.units else [])
        quiet = True
        detail: dict[str, Any] = {}
        for name in names:
            unit = state.units[name]
            counts, mu, phi = hop_window(unit, start, cfg)
            k, n = counts[0], sum(counts)
            p = quasi_poisson_sf(k, mu, phi)
            share = unit.baseline.usual_share(cfg)
            p_share = binom_sf(k, n, share) if share is not None and n >= cfg.share_min_total else 1.0
            quiet = quiet and p >= cfg.p_resolve and p_share >= cfg.p_resolve
            detail[name] = {"negative": k, "total": n, "expected_negative": round(mu, 2), "p_value": float(f"{p:.3g}")}
        inc.quiet_minutes = inc.quiet_minutes + 1 if quiet else 0
        if inc.quiet_minutes < cfg.resolve_minutes:
            return []
        describe_surge_resolved(inc, detail, cfg)
        return [resolve(state.incidents, state.cooldowns, key, start + 60, cfg)]

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
            inc = open_incident(AlertKind.severe_mention, state.brand, topic, f.ts, subject=topic, severity=3, peak=1,
                                mention_ids=(f.id,))
            state.incidents[key] = inc
            describe_severe(state, inc, f, cfg)
            return [to_alert(inc, AlertStatus.open, cfg)]
        if f.id in inc.mention_ids:
            return []  # a replayed mention
        remember_mention(inc, f.id)
        inc.peak += 1
        inc.last_signal_at = max(inc.last_signal_at, f.ts)
        describe_severe(state, inc, f, cfg)
        inc.pending = True
        return flush_pending(inc, f.ts, cfg.severe_update_interval_seconds, cfg)

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
            inc = open_incident(AlertKind.repeated_negativity_spreading, state.brand, f.customer_id, f.ts,
                                subject=f.customer_id, severity=severity, peak=sites, mention_ids=(f.id,))
            state.incidents[key] = inc
            describe_repeated(inc, f)
            return [to_alert(inc, AlertStatus.open, cfg)]
        inc.last_signal_at = max(inc.last_signal_at, f.ts)
        if f.id not in inc.mention_ids:
            remember_mention(inc, f.id)
        if sites > inc.notified_peak:  # the story reached another site
            inc.peak = sites
            mark_notified(inc, f.ts, sites)
            describe_repeated(inc, f)
            return [to_alert(inc, AlertStatus.update, cfg)]
        return []

    # ------------------------------------------------------------------ timeouts
    def _timeouts(self, state: BrandState, now: float) -> list[Alert]:
        """Pending updates whose interval passed; severe and repeated alerts gone quiet."""
        cfg = self.cfg
        alerts: list[Alert] = []
        for key, inc in list(state.incidents.items()):
            if inc.kind == AlertKind.severe_mention.value:
                alerts += flush_pending(inc, now, cfg.severe_update_interval_seconds, cfg)
                quiet_for = cfg.severe_resolve_after_minutes * 60
            elif inc.kind == AlertKind.repeated_negativity_spreading.value:
                quiet_for = cfg.repeat_resolve_after_hours * 3600
            else:
                continue
            if now - inc.last_signal_at >= quiet_for:
                describe_quiet_resolved(inc, quiet_for)
                alerts.append(resolve(state.incidents, state.cooldowns, key, inc.last_signal_at + quiet_for, cfg))
        longest = max(cfg.cooldown_seconds, cfg.severe_cooldown_seconds, cfg.repeat_cooldown_seconds)
        for key in [k for k, t in state.cooldowns.items() if now - t > longest + cfg.allowed_lateness_seconds]:
            del state.cooldowns[key]
        return alerts
