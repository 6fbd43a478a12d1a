"""`BrandState`: what crisis detection keeps for one brand between mentions, and its compact JSON form.

The Faust wiring keeps one per brand in a table and the worker's /crisis page reads it back, so it is
plain data (the brand's units with their windows and baselines, open incidents, cool-downs, recent
examples, counters) and `to_json`/`from_json` define exactly what the table stores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.crisis.baseline import SeriesBaseline, UnitBaseline
from pipeline.crisis.incidents import Incident
from pipeline.crisis.windows import Unit


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
