"""Which kind of customer this is, from their history as of one mention. Pure.

Checked in this order (the first that fits wins), each with a confidence and a reason:
- chronic_critic: many negative posts (>= critic_min_negative, share >= critic_min_share)
  spread over a long span (>= critic_min_span_days) in the window;
- temporarily_angry: a burst of >= angry_burst_min negative posts within
  angry_burst_hours, after a history that was neutral/positive or empty, and the latest
  post is not positive;
- brand_ambassador: sustained positive (>= ambassador_min_positive positive posts, share
  >= ambassador_min_share, hardly any negative);
- quiet_lurker: a first post, or a rare one (<= lurker_max_posts in the window, or the
  first after lurker_gap_days of silence);
- regular: none of the above.
A compliment right after being temporarily angry is the resolution webcare hopes for:
it is recorded as a persona change with that reason.
"""
from __future__ import annotations

from datetime import timedelta

from pipeline.customers.config import PersonaThresholds
from pipeline.customers.state import NEGATIVE, POSITIVE, CustomerState, Item, counts_between
from schemas import Persona, PersonaChange

RESOLVED = "compliment after the angry burst: resolved (thank them, close the case)"


def _days(n: float) -> str:
    return f"{n:.0f} day{'s' if round(n) != 1 else ''}"


def assess_persona(state: CustomerState, item: Item, cfg: PersonaThresholds) -> tuple[Persona, float, str]:
    """`state` already includes `item`; the judgement is as of `item.at`."""
    t = item.at
    start = t - timedelta(days=cfg.window_days)
    c = counts_between(state, start, t)
    n, neg, pos = c.get("n", 0), c.get("polarity:negative", 0), c.get("polarity:positive", 0)
    window = _days(cfg.window_days)

    neg_days = sorted(d for d, b in state.daily.items()
                      if b.get("polarity:negative") and start.date().isoformat() <= d <= t.date().isoformat())
    span = 0.0
    if len(neg_days) >= 2:
        from datetime import date
        span = (date.fromisoformat(neg_days[-1]) - date.fromisoformat(neg_days[0])).days
    if neg >= cfg.critic_min_negative and neg / n >= cfg.critic_min_share and span >= cfg.critic_min_span_days:
        conf = min(0.95, 0.55 + 0.05 * (neg - cfg.critic_min_negative) + 0.2 * min(1.0, span / 60))
        return (Persona.chronic_critic, round(conf, 2),
                f"{neg} of {n} posts negative over {_days(span)} (last {window})")

    earlier = [i for i in state.recent if i.id != item.id and i.at <= t and i.at >= start]
    burst_from = t - timedelta(hours=cfg.angry_burst_hours)
    burst = [i for i in earlier if i.at >= burst_from and i.polarity == NEGATIVE]
    if item.polarity == NEGATIVE:
        burst.append(item)
    if len(burst) >= cfg.angry_burst_min and item.polarity != POSITIVE:
        burst_start = min(i.at for i in burst)
        prior = [i for i in earlier if i.at < burst_start]
        prior_neg = sum(i.polarity == NEGATIVE for i in prior)
        if not prior or prior_neg / len(prior) <= cfg.angry_prior_max_negative_share:
            before = "no earlier posts" if not prior else (
                f"{len(prior)} earlier post{'s' if len(prior) != 1 else ''} mostly neutral/positive")
            conf = min(0.9, 0.6 + 0.1 * (len(burst) - cfg.angry_burst_min) + (0.1 if prior else 0.0))
            return (Persona.temporarily_angry, round(conf, 2),
                    f"{len(burst)} negative posts within {cfg.angry_burst_hours:g}h after {before}")

    if (pos >= cfg.ambassador_min_positive and pos / n >= cfg.ambassador_min_share
            and neg / n <= cfg.ambassador_max_negative_share):
        conf = min(0.95, 0.6 + 0.05 * (pos - cfg.ambassador_min_positive) + 0.2 * (pos / n - cfg.ambassador_min_share))
        return Persona.brand_ambassador, round(conf, 2), f"{pos} of {n} posts positive (last {window})"

    previous = [i for i in earlier if i.at < t]
    if n <= cfg.lurker_max_posts:
        return Persona.quiet_lurker, 0.5, f"first post in {window}: reads along, rarely posts"
    if previous:
        gap = (t - max(i.at for i in previous)).total_seconds() / 86400
        if gap >= cfg.lurker_gap_days:
            return Persona.quiet_lurker, 0.6, f"first post after {_days(gap)} of silence"
    return Persona.regular, 0.5, f"{n} posts in {window}: {neg} negative, {pos} positive, no strong pattern"


def persona_change(previous: Persona | None, current: Persona, item: Item, reason: str) -> PersonaChange | None:
    if previous is None or previous == current:
        return None
    if previous == Persona.temporarily_angry and item.polarity == POSITIVE:
        return PersonaChange(from_persona=previous, to_persona=current, reason=RESOLVED)
    return PersonaChange(from_persona=previous, to_persona=current, reason=reason)
