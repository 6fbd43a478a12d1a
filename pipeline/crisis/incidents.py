"""Incidents: the record kept for each open alert, and its lifecycle (open, update, resolve) as `Alert`s. Pure.

An `Incident` is what the detector remembers about one alert between mentions: its id, the peak it saw,
what it last told and when, and the summary and evidence the next message carries. The functions here make
the state changes that every kind of alert shares and build the `Alert` each step sends, so the detector's
rules decide only *when* to open, update or resolve.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from core.settings.crisis import CrisisSettings
from schemas import Alert, AlertKind, AlertStatus

MENTION_IDS_KEPT = 50


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


def utc(ts: float) -> datetime:
    """Stream time (epoch seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, timezone.utc)


def _stamp(ts: float) -> str:
    return utc(ts).strftime("%Y%m%dT%H%M%SZ")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "#@._-" else "-" for ch in text)[:80]


def open_incident(kind: AlertKind, brand: str, topic: str | None, at: float, *, subject: str, severity: int,
                  peak: float, mention_ids: tuple[str, ...] = ()) -> Incident:
    """A new incident, told at `at`. Its id names `subject`: the topic, or '*' for the brand as a whole."""
    return Incident(id=f"{kind.value}:{_safe(brand)}:{_safe(subject)}:{_stamp(at)}", kind=kind.value, brand=brand,
                    topic=topic, opened_at=at, updated_at=at, severity=severity, summary="", peak=peak,
                    notified_peak=peak, notified_at=at, last_signal_at=at, mention_ids=list(mention_ids))


def remember_mention(inc: Incident, mention_id: str) -> None:
    inc.mention_ids = (inc.mention_ids + [mention_id])[-MENTION_IDS_KEPT:]


def mark_notified(inc: Incident, at: float, peak: float) -> None:
    """An update tells `peak` at `at`: escalation and update intervals count from here."""
    inc.notified_peak = peak
    inc.notified_at = inc.updated_at = at
    inc.sequence += 1


def flush_pending(inc: Incident, now: float, interval: float, cfg: CrisisSettings) -> list[Alert]:
    """Tell what is new once `interval` has passed since the last message."""
    if not inc.pending or now - inc.notified_at < interval:
        return []
    inc.pending = False
    mark_notified(inc, max(now, inc.updated_at), inc.peak)
    return [to_alert(inc, AlertStatus.update, cfg)]


def resolve(incidents: dict[str, Incident], cooldowns: dict[str, float], key: str, at: float,
            cfg: CrisisSettings) -> Alert:
    """Close the incident under `key` at stream time `at`; the key cools down from then."""
    inc = incidents.pop(key)
    cooldowns[key] = at
    inc.sequence += 1
    inc.updated_at = max(inc.updated_at, at)
    return to_alert(inc, AlertStatus.resolved, cfg, resolved_at=inc.updated_at)


def to_alert(inc: Incident, status: AlertStatus, cfg: CrisisSettings, resolved_at: float | None = None) -> Alert:
    evidence = dict(inc.evidence)
    if cfg.alert_link_template:
        evidence["alert_url"] = cfg.alert_link_template.format(id=inc.id, brand=inc.brand)
    return Alert(id=inc.id, kind=AlertKind(inc.kind), status=status, brand=inc.brand, topic=inc.topic,
                 severity=inc.severity, summary=inc.summary[:2000], opened_at=utc(inc.opened_at),
                 updated_at=utc(inc.updated_at), resolved_at=utc(resolved_at) if resolved_at else None,
                 mention_ids=list(inc.mention_ids), evidence=evidence, sequence=inc.sequence)
