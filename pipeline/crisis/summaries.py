"""What people read: each alert's summary text and evidence, the example mentions quoted in them, the snapshot. Pure.

Alerts quote recent mentions, so the brand state keeps the latest negative or severe ones (`keep_example`)
and `pick_examples` chooses among them. The `describe_*` functions write an incident's summary and evidence
for each kind of alert and each step of its life, and `snapshot` shows a brand's windows and baselines on
the worker's /crisis page. The wording lives here so that the detector holds only the decisions.
"""
from __future__ import annotations

from typing import Any

from core.settings.crisis import CrisisSettings
from pipeline.crisis.facts import Facts
from pipeline.crisis.incidents import Incident, utc
from pipeline.crisis.state import BrandState
from pipeline.crisis.topics import BRAND_TOPIC
from pipeline.crisis.windows import (
    SENTIMENTS,
    Signal,
    bucket_start,
    detect_window_first,
    hop_window,
    minute_counts,
    minute_start,
    window_counts,
)

EXAMPLES_KEPT = 15  # the latest negative or severe mentions, to pick evidence from


def example(f: Facts) -> dict[str, Any]:
    return {"id": f.id, "url": f.url, "text": f.text[:280], "source": f.source, "author": f.author,
            "followers": f.followers, "created_at": utc(f.ts).isoformat()}


def keep_example(examples: list[dict[str, Any]], f: Facts) -> None:
    examples.append({**example(f), "ts": f.ts, "topics": list(f.topics), "severe": f.severity >= 3})
    if len(examples) > EXAMPLES_KEPT:
        del examples[: len(examples) - EXAMPLES_KEPT]


def pick_examples(examples: list[dict[str, Any]], since: float, until: float, cfg: CrisisSettings, *,
                  topic: str | None = None, severe: bool = False) -> list[dict[str, Any]]:
    """The kept examples of [since, until], on the topic when there are any, widest reach first."""
    chosen = [e for e in examples if since <= e["ts"] <= until and (not severe or e["severe"])]
    if topic:
        on_topic = [e for e in chosen if topic in e["topics"]]
        chosen = on_topic or chosen
    chosen.sort(key=lambda e: (-e["followers"], -e["ts"]))
    return [{k: v for k, v in e.items() if k not in ("ts", "topics", "severe")}
            for e in chosen[: cfg.examples]]


def describe_surge(state: BrandState, inc: Incident, lead: Signal, brand: Signal, cfg: CrisisSettings, *,
                   growing: bool = False) -> None:
    """Summary and evidence of a negative surge as it opens or grows; `lead` is the window it reports."""
    ts, last = lead.at, lead.end
    first = detect_window_first(last, cfg)
    topics = {name: window_counts(u, first, last, cfg)[0] for name, u in state.units.items() if name != BRAND_TOPIC}
    top_topics = dict(sorted(((n, c) for n, c in topics.items() if c), key=lambda x: -x[1])[:5])
    examples = pick_examples(state.examples, ts - cfg.hop_window_minutes * 60, ts, cfg, topic=inc.topic)
    inc.evidence = {
        "signal": lead.as_evidence(cfg.detect_window_seconds),
        "brand": brand.as_evidence(cfg.detect_window_seconds),
        "topics": top_topics,
        "peak_negative": int(inc.peak),
        "examples": examples,
        "links": [e["url"] for e in examples if e.get("url")],
        "stream_time": utc(ts).isoformat(),
        "late_mentions": state.late,
        "max_lag_seconds": state.max_lag,
    }
    inc.mention_ids = [e["id"] for e in examples]
    about = f" about {inc.topic}" if inc.topic else ""
    test = "negative share" if lead.test == "share" else "negative mentions"
    inc.summary = (f"Negative surge for {inc.brand}{about}: {'growing: ' if growing else ''}{lead.negative} {test} "
                   f"in the last {cfg.detect_window_seconds}s where {lead.expected:.1f} are usual "
                   f"({lead.ratio:.1f}x, p={lead.p_value:.1g})")


def describe_surge_resolved(inc: Incident, units: dict[str, dict[str, Any]], cfg: CrisisSettings) -> None:
    """`units`: the hop window of the brand ('*') and of the surge's topic, as judged when it went quiet."""
    brand = units[BRAND_TOPIC]
    inc.summary = (f"Negative surge for {inc.brand}{f' about {inc.topic}' if inc.topic else ''} resolved: "
                   f"{brand['negative']} negative mentions in the last {cfg.hop_window_minutes} min, "
                   f"{brand['expected_negative']:.1f} usual")
    inc.evidence = {**inc.evidence, "resolve": {"hop_window_minutes": cfg.hop_window_minutes, "units": units}}


def describe_severe(state: BrandState, inc: Incident, f: Facts, cfg: CrisisSettings) -> None:
    """Summary and evidence of a severe-mention alert, `f` being its latest mention."""
    examples = pick_examples(state.examples, inc.opened_at, f.ts, cfg, severe=True)
    count = int(inc.peak)
    inc.summary = (f"Severe mention about {inc.brand} ({inc.topic}): \"{f.text[:160]}\" by @{f.author} "
                   f"({f.followers} followers) on {f.source}"
                   + (f"; {count} severe mentions since {utc(inc.opened_at):%H:%M} UTC" if count > 1 else ""))
    inc.evidence = {"severe_mentions": count, "flags": list(f.flags), "latest": example(f),
                    "examples": examples, "links": [e["url"] for e in examples if e.get("url")],
                    "stream_time": utc(f.ts).isoformat()}


def describe_repeated(inc: Incident, f: Facts) -> None:
    """Summary and evidence of one author's negative story spreading across sites."""
    inc.summary = (f"@{f.author} spreads one negative story about {inc.brand} across {len(f.repeated_sources)} "
                   f"sites ({', '.join(f.repeated_sources)}): \"{f.text[:160]}\"")
    inc.evidence = {"customer_id": f.customer_id, "sites": list(f.repeated_sources),
                    "mentions": len(inc.mention_ids), "latest": example(f),
                    "links": [f.url] if f.url else [], "stream_time": utc(f.ts).isoformat()}


def describe_quiet_resolved(inc: Incident, quiet_for: float) -> None:
    """An alert that saw nothing new for `quiet_for` seconds: its summary's headline, marked resolved."""
    inc.summary = f"{inc.summary.split(':')[0]} resolved: quiet for {quiet_for / 60:.0f} min"


def snapshot(state: BrandState, cfg: CrisisSettings) -> dict[str, Any]:
    """The brand's windows and baselines at its stream time, for people (the worker's /crisis page)."""
    if state.watermark is None:
        return {"brand": state.brand, "units": {}}
    now = state.watermark
    last = bucket_start(now, cfg)
    minute = minute_start(now)
    units = {}
    for name, unit in state.units.items():
        exp = unit.baseline.negative.expected(now, cfg)
        units[name] = {
            "detect_window": dict(zip(SENTIMENTS, window_counts(unit, detect_window_first(last, cfg), last, cfg),
                                      strict=True)),
            "current_minute": dict(zip(SENTIMENTS, minute_counts(unit, minute, cfg), strict=True)),
            "hop_window": dict(zip(SENTIMENTS, hop_window(unit, minute - 60, cfg)[0], strict=True)),
            "expected_negative_per_minute": round(exp.rate_per_minute, 3), "baseline_source": exp.source,
            "minutes_learned": unit.baseline.negative.minutes,
        }
    return {"brand": state.brand, "stream_time": utc(now).isoformat(),
            "closed_until": utc(state.closed_until).isoformat() if state.closed_until else None,
            "open_alerts": sorted(i.id for i in state.incidents.values()), "late_mentions": state.late,
            "max_lag_seconds": state.max_lag, "units": units}
