"""`Facts`: the part of a classified mention that crisis detection looks at, as one flat frozen record.

Detection reads a dozen fields of a `ClassifiedMention` plus the topics found in its text; copying them
once, where a mention comes in, keeps the windows, incidents and summaries free of the schema, and lets
the tests and the offline replay build mentions by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.settings.crisis import CrisisSettings
from pipeline.crisis.topics import topics_of
from schemas import ClassifiedMention


@dataclass(frozen=True)
class Facts:
    """The part of a classified mention that detection looks at."""

    id: str
    brand: str
    ts: float  # created_at, epoch seconds: stream time
    sentiment: str
    severity: int = 0
    flags: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    text: str = ""
    url: str | None = None
    source: str = ""
    author: str = ""
    followers: int = 0
    customer_id: str = ""
    repeated_sources: tuple[str, ...] = ()  # set by the triage enricher when the story crossed sites

    @classmethod
    def from_mention(cls, m: ClassifiedMention, cfg: CrisisSettings) -> "Facts":
        flags = tuple(name for name, on in m.flags.model_dump().items() if on)
        repeated = getattr(m, "repeated_negativity", None)  # the triage enricher's verdict, when present
        handles = [m.matched_keyword] if m.matched_keyword else []
        return cls(
            id=m.id, brand=m.brand, ts=m.created_at.timestamp(), sentiment=m.sentiment.value, severity=m.severity,
            flags=flags,
            topics=tuple(topics_of(m.text, m.brand, cfg.topic_keywords, limit=cfg.max_topics_per_mention,
                                   brand_handles=handles)),
            text=m.text, url=m.url, source=m.source.value, author=m.author.handle,
            followers=m.author.followers or 0, customer_id=m.customer_id,
            repeated_sources=tuple(sorted(set(repeated.sources))) if repeated is not None else (),
        )
