"""What is normal for one brand or topic: a per-minute rate learned from history. Pure.

Two exponentially weighted estimates of the per-minute count are kept per series:

* `level`, a short-memory EWMA (half-life `level_half_life_minutes`) with an EW variance, so the
  dispersion (variance / mean) of the counts is known; it follows trends and intraday drift.
* `season`, one EWMA per hour-of-week slot (168 slots; half-life `season_half_life_weeks`), kept for
  brand-wide series only: it knows that Monday 09:00 is busy and Sunday 04:00 is not.

The expected rate is the larger of the seasonal slot (once it has `season_min_minutes`) and the level:
the slot stops the morning ramp from looking like a surge before the level catches up, and the level
covers a brand that is simply busier than it used to be. Until `cold_start_minutes` of history exist
the expected rate is at least `cold_start_rate_per_minute`, and never below `min_rate_per_minute`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.settings.crisis import CrisisSettings

SLOTS = 168


def hour_of_week(ts: float) -> int:
    """0 = Monday 00:00-01:00 UTC ... 167 = Sunday 23:00-24:00 UTC (the epoch began on a Thursday)."""
    return (int(ts // 3600) + 72) % SLOTS


def _alpha(half_life: float) -> float:
    return 1.0 - 0.5 ** (1.0 / half_life)


@dataclass
class Expected:
    rate_per_minute: float
    source: str  # "seasonal", "level" or "cold_start"
    dispersion: float
    hour_of_week: int


@dataclass
class SeriesBaseline:
    level: float | None = None
    var: float = 0.0
    minutes: int = 0
    season: list[float] | None = None
    season_n: list[int] | None = None

    @classmethod
    def new(cls, seasonal: bool) -> "SeriesBaseline":
        if seasonal:
            return cls(season=[0.0] * SLOTS, season_n=[0] * SLOTS)
        return cls()

    def learn(self, count: float, slot: int, cfg: CrisisSettings) -> None:
        """Fold one closed minute's count in."""
        if self.level is None:
            self.level, self.var = float(count), float(max(count, cfg.min_rate_per_minute))
        else:
            a = _alpha(cfg.level_half_life_minutes)
            diff = count - self.level
            self.level += a * diff
            self.var = (1 - a) * (self.var + a * diff * diff)
        self.minutes += 1
        if self.season is not None and self.season_n is not None:
            if self.season_n[slot] == 0:
                self.season[slot] = float(count)
            else:
                # a slot sees 60 minutes a week: the half-life in weeks becomes one in slot-minutes
                self.season[slot] += _alpha(cfg.season_half_life_weeks * 60) * (count - self.season[slot])
            self.season_n[slot] += 1

    def expected(self, ts: float, cfg: CrisisSettings) -> Expected:
        slot = hour_of_week(ts)
        level = self.level or 0.0
        if self.minutes < cfg.cold_start_minutes:
            return Expected(max(level, cfg.cold_start_rate_per_minute, cfg.min_rate_per_minute), "cold_start", 1.0,
                            slot)
        rate, source = level, "level"
        if self.season is not None and self.season_n is not None and self.season_n[slot] >= cfg.season_min_minutes:
            if self.season[slot] >= level:
                rate, source = self.season[slot], "seasonal"
        rate = max(rate, cfg.min_rate_per_minute)
        dispersion = min(cfg.max_dispersion, max(1.0, self.var / max(level, cfg.min_rate_per_minute)))
        return Expected(rate, source, dispersion, slot)

    # --- compact JSON form for the Faust table
    def to_json(self) -> list:
        out: list = [None if self.level is None else round(self.level, 5), round(self.var, 5), self.minutes]
        if self.season is not None and self.season_n is not None:
            out += [[round(v, 4) for v in self.season], self.season_n]
        return out

    @classmethod
    def from_json(cls, data: list) -> "SeriesBaseline":
        b = cls(level=data[0], var=data[1], minutes=data[2])
        if len(data) > 3:
            b.season, b.season_n = list(data[3]), list(data[4])
        return b


@dataclass
class UnitBaseline:
    """Negative and total series of one brand (topic '*') or one brand/topic."""

    negative: SeriesBaseline = field(default_factory=SeriesBaseline)
    total: SeriesBaseline = field(default_factory=SeriesBaseline)

    @classmethod
    def new(cls, seasonal: bool) -> "UnitBaseline":
        return cls(SeriesBaseline.new(seasonal), SeriesBaseline.new(seasonal))

    def learn(self, negative: int, total: int, slot: int, cfg: CrisisSettings) -> None:
        self.negative.learn(negative, slot, cfg)
        self.total.learn(total, slot, cfg)

    def negative_share(self) -> float | None:
        """The usual share of negative mentions, once there is a level to speak of."""
        if not self.total.level or self.total.level <= 0 or self.negative.level is None:
            return None
        return min(0.98, max(0.02, self.negative.level / self.total.level))

    def usual_share(self, cfg: CrisisSettings) -> float | None:
        """The negative share the share test compares with; none while the totals are in their cold start."""
        if self.total.minutes < cfg.cold_start_minutes:
            return None
        return self.negative_share()
