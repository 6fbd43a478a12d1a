"""Should webcare respond, by when, and which rule decided. Pure; times are event times.

Webcare practice (docs/triage.md): respond always on own channels, fast; on third-party
sites only when it matters (severity, reach, repeated negativity); delete only abusive
posts. Deadlines are service levels counted in business hours: the clock runs only
while the team is on duty (default: around the clock, so a question is due 24 hours
later). Severity 3 is escalated at once and ignores business hours (on-call).
The first rule that applies decides, and its name goes into `respond_rule`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    opens: time = time(0, 0)
    closes: time | None = None  # None: until midnight (24:00)
    days: frozenset[int] = frozenset(range(7))  # Monday = 0
    timezone: str = "Europe/Amsterdam"

    @classmethod
    def parse(cls, hours: str = "00:00-24:00", days: str = "mon-sun", timezone: str = "Europe/Amsterdam"
              ) -> BusinessHours:
        """`hours` "08:00-22:00"; `days` "mon-fri" or "mon,wed,sat"."""
        start, _, end = hours.partition("-")
        opens = time.fromisoformat(start.strip())
        closes = None if end.strip() in ("24:00", "") else time.fromisoformat(end.strip())
        chosen: set[int] = set()
        for part in days.lower().split(","):
            first, _, last = part.strip().partition("-")
            a = DAYS.index(first)
            b = DAYS.index(last) if last else a
            chosen.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
        return cls(opens, closes, frozenset(chosen), timezone)

    def add(self, start: datetime, hours: float) -> datetime:
        """`start` plus `hours` of business time (the clock stops outside business hours)."""
        tz = ZoneInfo(self.timezone)
        at = start.astimezone(tz)
        left = timedelta(hours=hours)
        for _ in range(366 * 2):  # bounded: at most two years of days
            day_open = datetime.combine(at.date(), self.opens, tz)
            day_close = (datetime.combine(at.date(), self.closes, tz) if self.closes
                         else datetime.combine(at.date() + timedelta(days=1), time(0), tz))
            if at.weekday() in self.days and at < day_close:
                at = max(at, day_open)
                if at + left <= day_close:
                    return (at + left).astimezone(start.tzinfo)
                left -= day_close - at
            at = datetime.combine(at.date() + timedelta(days=1), time(0), tz)
        raise ValueError("no business hours configured")


@dataclass(frozen=True)
class RespondConfig:
    business_hours: BusinessHours = BusinessHours()
    question_hours: float = 24.0  # "answer a question within 24 hours"
    suggestion_hours: float = 48.0
    compliment_hours: float = 48.0
    other_hours: float = 72.0
    # complaints faster by severity (0, 1, 2, 3); severity 3 is wall-clock (escalation)
    complaint_hours: tuple[float, float, float, float] = (8.0, 4.0, 2.0, 1.0)
    third_party_min_severity: int = 2
    third_party_min_followers: int = 10_000
    respond_to_abusive: bool = False  # delete and explain instead (see moderation)


@dataclass(frozen=True)
class Decision:
    should_respond: bool
    respond_by: datetime | None
    rule: str
    detail: str = field(default="")


def decide(*, created_at: datetime, channel: str, type: str, severity: int, negative: bool, followers: int,
           repeated_negativity: bool, abusive: bool, cfg: RespondConfig = RespondConfig()) -> Decision:
    def due(hours: float, wall_clock: bool = False) -> datetime:
        return created_at + timedelta(hours=hours) if wall_clock else cfg.business_hours.add(created_at, hours)

    def deadline() -> datetime:
        if severity >= 3:
            return due(cfg.complaint_hours[3], wall_clock=True)
        if type == "complaint" or negative:
            return due(cfg.complaint_hours[max(0, min(severity, 2))])
        return due({"question": cfg.question_hours, "suggestion": cfg.suggestion_hours,
                    "compliment": cfg.compliment_hours}.get(type, cfg.other_hours))

    if severity >= 3:
        return Decision(True, deadline(), "severity_3_escalate", "escalate now, on any channel")
    if abusive and not cfg.respond_to_abusive:
        return Decision(False, None, "abusive_moderate", "abusive: moderate (delete with a reason), do not engage")
    if channel == "own":
        return Decision(True, deadline(), f"own_channel_{type}", "always respond on own channels")
    if severity >= cfg.third_party_min_severity:
        return Decision(True, deadline(), "third_party_severity", f"severity {severity} on a third-party site")
    if repeated_negativity:
        return Decision(True, deadline(), "third_party_repeated_negativity",
                        "the same story keeps coming back: respond before it spreads further")
    if followers >= cfg.third_party_min_followers:
        return Decision(True, deadline(), "third_party_reach", f"{followers:,} followers on a third-party site")
    return Decision(False, None, "third_party_not_warranted", "third-party site: severity, reach and history low")
