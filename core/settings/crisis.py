"""Crisis detection settings: `Settings.crisis` (TOML table `[crisis]`, env `LUISTER_CRISIS__<NAME>`).

Defaults and why they are what they are: docs/crisis.md.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TOPIC_KEYWORDS = [
    # Dutch and English words that name what a surge is about; hashtags are topics as well
    "storing", "storingen", "outage", "down", "eruit", "plat", "uitval", "recall", "terugroepactie",
    "terugroepen", "datalek", "data breach", "lek", "leak", "hack", "gehackt", "hacked", "staking", "strike",
    "vertraging", "delay", "delayed", "geannuleerd", "cancelled", "canceled", "oplichting", "phishing", "scam",
    "explosie", "explosion", "vergiftiging", "food poisoning", "salmonella", "listeria",
    "onveilig", "unsafe", "ongeluk", "accident", "boete", "fine", "rechtszaak", "lawsuit", "schandaal", "scandal",
    "boycot", "boycott", "prijsverhoging", "price increase", "ontslagen", "layoffs",
]


class CrisisSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run the crisis agents in the worker")
    topic_by_brand: str = Field("", description="classified mentions re-keyed by brand; empty: "
                                                "<prefix of topic_classified>.by_brand")
    batch_size: int = Field(500, ge=1)

    # --- windows (stream time = the mention's created_at)
    bucket_seconds: int = Field(10, ge=1, le=60, description="resolution of the windows; must divide 60")
    detect_window_seconds: int = Field(60, ge=10, description="trailing (hopping, step = bucket) window that opens")
    hop_window_minutes: int = Field(5, ge=1, description="hopping window (step 1 minute) that resolves")
    allowed_lateness_seconds: int = Field(300, ge=0, description="a minute closes this long after stream time "
                                                                 "passed it; later mentions are not counted")

    # --- baseline
    level_half_life_minutes: float = Field(60.0, gt=0, description="EWMA of the per-minute rate")
    season_half_life_weeks: float = Field(3.0, gt=0, description="EWMA per hour-of-week slot")
    season_min_minutes: int = Field(30, ge=1, description="minutes a slot needs before it is trusted")
    cold_start_minutes: int = Field(30, ge=0, description="history before the learned rate is trusted")
    cold_start_rate_per_minute: float = Field(2.0, gt=0, description="prior rate assumed during cold start")
    min_rate_per_minute: float = Field(0.2, gt=0, description="floor of any expected rate")
    max_dispersion: float = Field(4.0, ge=1, description="cap of the variance/mean ratio (quasi-Poisson)")
    freeze_max_minutes: int = Field(60, ge=0, description="baseline stops learning while a surge is open, "
                                                          "at most this long (then a new normal is learned)")

    # --- opening a negative_surge
    p_open: float = Field(1e-6, gt=0, lt=1, description="tail probability below which a count is a surge")
    min_count: int = Field(6, ge=1, description="negative mentions in the window, at least")
    min_ratio: float = Field(3.0, ge=1, description="observed / expected, at least")
    share_min_total: int = Field(20, ge=1, description="mentions in the window before the share test applies")
    share_min_delta: float = Field(0.3, gt=0, lt=1, description="negative share above its baseline, at least")
    critical_ratio: float = Field(10.0, ge=1, description="observed / expected that makes a surge severity 3")

    # --- lifecycle
    p_resolve: float = Field(0.01, gt=0, lt=1, description="the hop window is back to baseline when its count is "
                                                           "no longer this improbable")
    resolve_minutes: int = Field(3, ge=1, description="consecutive closed minutes back at baseline to resolve")
    escalation_factor: float = Field(1.5, gt=1, description="growth of the window count that sends an update")
    update_interval_seconds: int = Field(120, ge=0, description="at most one growth update per this long")
    cooldown_seconds: int = Field(900, ge=0, description="after a resolve, no new alert for the same key this long")

    # --- topics
    topic_keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_TOPIC_KEYWORDS))
    max_topics_per_mention: int = Field(3, ge=0)
    max_topics_per_brand: int = Field(50, ge=0)
    topic_ttl_minutes: int = Field(1440, ge=1, description="a topic unseen this long is forgotten")

    # --- severe_mention
    severe_min_severity: int = Field(3, ge=0, le=3)
    severe_update_interval_seconds: int = Field(60, ge=0)
    severe_resolve_after_minutes: int = Field(60, ge=1, description="quiet time without a new severe mention")
    severe_cooldown_seconds: int = Field(0, ge=0)

    # --- repeated_negativity_spreading
    repeat_min_sources: int = Field(3, ge=2, description="distinct sites one customer's story reached")
    repeat_resolve_after_hours: float = Field(24.0, gt=0)
    repeat_cooldown_seconds: int = Field(86400, ge=0)

    # --- evidence
    examples: int = Field(5, ge=0, le=20, description="example mentions attached to an alert")
    alert_link_template: str = Field("", description="link to an alert, e.g. a dashboard: {id}, {brand}")

    @model_validator(mode="after")
    def _check(self) -> "CrisisSettings":
        if 60 % self.bucket_seconds:
            raise ValueError("bucket_seconds must divide 60")
        if self.detect_window_seconds % self.bucket_seconds:
            raise ValueError("detect_window_seconds must be a multiple of bucket_seconds")
        return self
