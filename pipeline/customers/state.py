"""One customer's history, as stored in the Faust table (JSON) and shown as a profile. Pure.

`observe(state, mention)` folds one mention in: totals and tumbling daily buckets by
type / sentiment / source, first and last seen, the accounts used, and a bounded
cross-channel timeline of recent items. Each timeline item keeps the verdict given
when it arrived, so a replayed mention (at-least-once delivery) gets the very same
verdict back and is not counted twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from pipeline.customers.config import HistoryLimits
from pipeline.customers.story import fingerprint
from schemas import ClassifiedMention, Persona, PersonaChange, RepeatedNegativity

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")  # old state keeps loading after a field is dropped


class Verdict(_Model):
    persona: Persona
    confidence: float
    reason: str
    change: PersonaChange | None = None
    repeated: RepeatedNegativity | None = None


class Item(_Model):
    id: str
    seq: int
    at: datetime
    source: str
    site: str
    channel: str
    account: str
    brand: str
    type: str
    sentiment: str
    polarity: str
    severity: int = 0
    story: list[str] = []
    snippet: str = ""
    url: str | None = None
    verdict: Verdict | None = None


class Transition(_Model):
    at: datetime
    mention_id: str
    from_persona: Persona
    to_persona: Persona
    reason: str


class CustomerState(_Model):
    customer_id: str
    seq: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    accounts: list[str] = []
    totals: dict[str, int] = {}
    daily: dict[str, dict[str, int]] = {}  # "YYYY-MM-DD" (UTC) -> counts: tumbling one-day windows
    recent: list[Item] = []  # arrival order, the newest last
    persona: Persona | None = None
    persona_confidence: float | None = None
    persona_reason: str | None = None
    persona_since: datetime | None = None
    transitions: list[Transition] = []
    repeated_negativity: int = 0

    @classmethod
    def load(cls, data: dict) -> CustomerState:
        """From the table's JSON: not strict, so enums nested from schemas/ read back from strings."""
        return cls.model_validate(data, strict=False)

    def find(self, mention_id: str) -> Item | None:
        return next((i for i in reversed(self.recent) if i.id == mention_id), None)


def polarity(type: str, sentiment: str) -> str:
    """Negative if a complaint or negative; positive if a compliment or positive; else neutral."""
    if type == "complaint" or sentiment == NEGATIVE:
        return NEGATIVE
    if type == "compliment" or sentiment == POSITIVE:
        return POSITIVE
    return NEUTRAL


def site_of(source: str, url: str | None) -> str:
    host = urlsplit(url).hostname if url else None
    return f"{source}:{host.removeprefix('www.')}" if host else source


def item_of(mention: ClassifiedMention, seq: int, limits: HistoryLimits) -> Item:
    return Item(
        id=mention.id, seq=seq, at=mention.created_at, source=mention.source.value,
        site=site_of(mention.source.value, mention.url), channel=mention.channel.value,
        account=mention.customer_key, brand=mention.brand, type=mention.type.value,
        sentiment=mention.sentiment.value, polarity=polarity(mention.type.value, mention.sentiment.value),
        severity=mention.severity, story=fingerprint(mention.text, mention.brand),
        snippet=mention.text[:limits.snippet_chars], url=mention.url,
    )


def _count_keys(item: Item) -> list[str]:
    return ["n", f"type:{item.type}", f"sentiment:{item.sentiment}", f"polarity:{item.polarity}",
            f"source:{item.source}", f"channel:{item.channel}"]


def add_item(state: CustomerState, item: Item, limits: HistoryLimits) -> CustomerState:
    """A new state with `item` counted and appended (the input is not changed)."""
    # copies what changes below, shares the rest: items and transitions are never changed in place,
    # and a deep copy of a long history was most of the profile stage's time
    s = state.model_copy(update={"accounts": list(state.accounts), "totals": dict(state.totals),
                                 "daily": dict(state.daily)})
    s.seq = max(s.seq, item.seq)
    s.first_seen = min(s.first_seen, item.at) if s.first_seen else item.at
    s.last_seen = max(s.last_seen, item.at) if s.last_seen else item.at
    if item.account not in s.accounts:
        s.accounts.append(item.account)
    day = item.at.date().isoformat()
    bucket = s.daily[day] = dict(s.daily.get(day, {}))
    for k in _count_keys(item):
        s.totals[k] = s.totals.get(k, 0) + 1
        bucket[k] = bucket.get(k, 0) + 1
    oldest = (s.last_seen - timedelta(days=limits.history_days)).date().isoformat()
    s.daily = {d: c for d, c in sorted(s.daily.items()) if d >= oldest}
    s.recent = (s.recent + [item])[-limits.recent_max:]
    return s


def remove_item(state: CustomerState, mention_id: str) -> CustomerState | None:
    """A new state without the mention (its author deleted it): out of the recent history and
    uncounted from the totals and its day. None when the state does not hold it (then nothing
    changes: counts of a mention already past `recent` cannot be told apart any more)."""
    item = state.find(mention_id)
    if item is None:
        return None
    s = state.model_copy(update={"totals": dict(state.totals), "daily": dict(state.daily)})
    day = item.at.date().isoformat()
    bucket = dict(s.daily.get(day, {}))
    for k in _count_keys(item):
        s.totals[k] = max(0, s.totals.get(k, 0) - 1)
        if k in bucket:
            bucket[k] = max(0, bucket[k] - 1)
    if day in s.daily:
        s.daily[day] = bucket
    s.recent = [i for i in s.recent if i.id != mention_id]
    s.transitions = [t for t in s.transitions if t.mention_id != mention_id]
    return s


def counts_between(state: CustomerState, start: datetime, end: datetime) -> dict[str, int]:
    """Counts over whole days from `start`'s day to `end`'s day (a sliding window of days)."""
    first, last = start.date().isoformat(), end.date().isoformat()
    out: dict[str, int] = {}
    for day, counts in state.daily.items():
        if first <= day <= last:
            for k, v in counts.items():
                out[k] = out.get(k, 0) + v
    return out


def windows(state: CustomerState, limits: HistoryLimits) -> dict[str, dict[str, int]]:
    if state.last_seen is None:
        return {}
    return {f"{d}d": counts_between(state, state.last_seen - timedelta(days=d - 1), state.last_seen)
            for d in limits.windows_days}
