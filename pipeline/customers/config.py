"""Triage thresholds, with defaults justified in docs/triage.md; override any in a YAML file
named by the `triage_config` setting (same keys as below)."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from enrichers.respond import BusinessHours, RespondConfig
from enrichers.severity import SeverityConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonaThresholds(_Section):
    window_days: float = Field(90, gt=0, description="history that personas look at")
    ambassador_min_positive: int = Field(3, ge=1)
    ambassador_min_share: float = Field(0.6, ge=0, le=1)
    ambassador_max_negative_share: float = Field(0.15, ge=0, le=1)
    critic_min_negative: int = Field(4, ge=2)
    critic_min_share: float = Field(0.6, ge=0, le=1)
    critic_min_span_days: float = Field(14, ge=0)
    angry_burst_min: int = Field(2, ge=1)
    angry_burst_hours: float = Field(48, gt=0)
    angry_prior_max_negative_share: float = Field(0.34, ge=0, le=1)
    lurker_max_posts: int = Field(1, ge=1, description="posts in the window that still count as 'rarely posts'")
    lurker_gap_days: float = Field(60, gt=0, description="a post after this long a silence is a rare post")


class RepeatThresholds(_Section):
    window_hours: float = Field(168, gt=0)
    min_sites: int = Field(2, ge=2, description="the same story on this many sources/sites")
    min_mentions: int = Field(3, ge=2, description="... or this many times on one site")
    similarity: float = Field(0.3, gt=0, le=1, description="overlap of the stories' content words")


class HistoryLimits(_Section):
    recent_max: int = Field(50, ge=5, description="timeline items kept per customer")
    history_days: int = Field(90, ge=1, description="daily buckets kept per customer")
    snippet_chars: int = Field(140, ge=0)
    windows_days: tuple[int, ...] = (1, 7, 30)
    transitions_max: int = Field(20, ge=1)


class SeverityThresholds(_Section):
    influencer_followers: int = 10_000
    high_reach_followers: int = 100_000
    press_handles: list[str] = []


class RespondThresholds(_Section):
    business_hours: str = "00:00-24:00"
    business_days: str = "mon-sun"
    timezone: str = "Europe/Amsterdam"
    question_hours: float = 24
    suggestion_hours: float = 48
    compliment_hours: float = 48
    other_hours: float = 72
    complaint_hours: tuple[float, float, float, float] = (8, 4, 2, 1)
    third_party_min_severity: int = 2
    third_party_min_followers: int = 10_000


class TriageConfig(_Section):
    persona: PersonaThresholds = PersonaThresholds()
    repeat: RepeatThresholds = RepeatThresholds()
    history: HistoryLimits = HistoryLimits()
    severity: SeverityThresholds = SeverityThresholds()
    respond: RespondThresholds = RespondThresholds()

    def severity_config(self) -> SeverityConfig:
        s = self.severity
        return SeverityConfig(s.influencer_followers, s.high_reach_followers,
                              frozenset(h.lstrip("@").lower() for h in s.press_handles))

    def respond_config(self) -> RespondConfig:
        r = self.respond
        return RespondConfig(BusinessHours.parse(r.business_hours, r.business_days, r.timezone), r.question_hours,
                             r.suggestion_hours, r.compliment_hours, r.other_hours, tuple(r.complaint_hours),
                             r.third_party_min_severity, r.third_party_min_followers)


def load_triage_config(path: Path | str | None) -> TriageConfig:
    if path is None:
        return TriageConfig()
    return TriageConfig.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
