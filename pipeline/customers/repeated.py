"""Repeated negativity: the same unhappy story again and again, or spread over sites. Pure.

A negative mention is `repeated_negativity` when, within the window, the same customer
told the same story (story.similarity >= threshold, same brand) before, and either
- on at least `min_sites` different sources/sites in all (this one included), or
- at least `min_mentions` times in all on any site.
The evidence is the ids of the earlier mentions and the sources/sites involved.
"""
from __future__ import annotations

from datetime import timedelta

from pipeline.customers.config import RepeatThresholds
from pipeline.customers.state import NEGATIVE, Item
from pipeline.customers.story import similarity
from schemas import RepeatedNegativity


def detect_repeated(item: Item, earlier: list[Item], cfg: RepeatThresholds) -> RepeatedNegativity | None:
    if item.polarity != NEGATIVE:
        return None
    window = timedelta(hours=cfg.window_hours)
    same_story = [e for e in earlier
                  if e.id != item.id and e.polarity == NEGATIVE and e.brand == item.brand
                  and abs(item.at - e.at) <= window and similarity(e.story, item.story) >= cfg.similarity]
    if not same_story:
        return None
    same_story.sort(key=lambda e: (e.at, e.seq))
    sites = sorted({e.site for e in same_story} | {item.site})
    sources = sorted({e.source for e in same_story} | {item.source})
    hours = f"{cfg.window_hours:g}h"
    if len(sites) >= cfg.min_sites:
        rule = f"same story on {len(sites)} sites within {hours}"
    elif len(same_story) + 1 >= cfg.min_mentions:
        rule = f"same story {len(same_story) + 1} times within {hours}"
    else:
        return None
    return RepeatedNegativity(earlier_ids=[e.id for e in same_story], sources=sources, sites=sites,
                              window_hours=cfg.window_hours, rule=rule)
