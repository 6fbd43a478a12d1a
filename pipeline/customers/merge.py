"""Merge one customer's history into another's, for an account linked after it had posted. Pure.

Counts and day buckets add up, accounts and timelines are united (a mention present in
both counts once in the timeline; the totals may then count it twice, which only
happens when a mention was replayed across the link), times take the outer bounds.
The persona fields stay the receiving customer's until its next mention recomputes them
over the merged history.
"""
from __future__ import annotations

from pipeline.customers.config import HistoryLimits
from pipeline.customers.state import CustomerState


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


def merge_states(into: CustomerState | None, moved: CustomerState, customer_id: str,
                 limits: HistoryLimits) -> CustomerState:
    base = into or CustomerState(customer_id=customer_id, persona=moved.persona,
                                 persona_confidence=moved.persona_confidence, persona_reason=moved.persona_reason,
                                 persona_since=moved.persona_since)
    s = base.model_copy(deep=True)
    s.customer_id = customer_id
    seen = {i.id for i in s.recent}
    items = sorted(s.recent + [i for i in moved.recent if i.id not in seen], key=lambda i: (i.at, i.seq))
    s.recent = [i.model_copy(update={"seq": n}) for n, i in enumerate(items, start=1)][-limits.recent_max:]
    s.seq = max(len(items), base.seq + moved.seq)
    s.totals = _add(s.totals, moved.totals)
    days = s.daily.keys() | moved.daily.keys()
    s.daily = {d: _add(s.daily.get(d, {}), moved.daily.get(d, {})) for d in sorted(days)}
    firsts = [t for t in (s.first_seen, moved.first_seen) if t]
    lasts = [t for t in (s.last_seen, moved.last_seen) if t]
    s.first_seen, s.last_seen = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    s.accounts = s.accounts + [a for a in moved.accounts if a not in s.accounts]
    s.transitions = sorted(s.transitions + moved.transitions, key=lambda t: t.at)[-limits.transitions_max:]
    s.repeated_negativity += moved.repeated_negativity
    return s
