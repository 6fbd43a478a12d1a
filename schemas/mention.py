"""The mention as it flows between stages: `RawMention` in, `ClassifiedMention` out.

These models are the one contract between connectors, pipeline agents and sinks.
They are strict (no type coercion, unknown fields rejected) so that a bad payload
fails loudly at the `normalize` stage and lands in the dead-letter topic.

Bump `SCHEMA_VERSION` on any incompatible change and keep a reader for the old one.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION = 1

# A mention's text longer than this is "oversized": it goes to the dead-letter topic.
MAX_TEXT_CHARS = 10_000
# The whole serialised raw record may not exceed this (checked before parsing).
MAX_RECORD_BYTES = 256 * 1024


class Source(StrEnum):
    twitter = "twitter"
    mastodon = "mastodon"
    bluesky = "bluesky"
    reddit = "reddit"
    facebook = "facebook"
    instagram = "instagram"
    whatsapp = "whatsapp"
    email = "email"
    rss = "rss"
    forum = "forum"
    review_site = "review_site"
    news = "news"
    webhook = "webhook"


class Channel(StrEnum):
    own = "own"  # the brand's own profile or page: always respond
    third_party = "third_party"  # someone else's site: respond when it matters


class MessageType(StrEnum):
    complaint = "complaint"
    question = "question"
    suggestion = "suggestion"
    compliment = "compliment"
    other = "other"  # no action asked: news, chatter, a neutral remark


class Sentiment(StrEnum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Persona(StrEnum):
    brand_ambassador = "brand_ambassador"
    chronic_critic = "chronic_critic"
    temporarily_angry = "temporarily_angry"
    quiet_lurker = "quiet_lurker"
    regular = "regular"


Handle = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
MentionId = Annotated[str, StringConstraints(min_length=3, max_length=300, pattern=r"^[a-z_]+:\S+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Author(_Strict):
    handle: Handle
    display_name: ShortText | None = None
    followers: Annotated[int, Field(ge=0)] | None = None
    is_verified: bool = False


class RawMention(_Strict):
    """What a connector publishes to `mentions.raw`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: MentionId  # "<source>:<native id>": stable, so replays are idempotent
    source: Source
    channel: Channel
    url: ShortText | None = None
    author: Author
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
    lang_hint: Annotated[str, StringConstraints(max_length=16)] | None = None
    created_at: AwareDatetime
    in_reply_to: ShortText | None = None
    brand: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    matched_keyword: ShortText | None = None
    ingested_at: AwareDatetime | None = None  # set by the connector when it publishes
    edited_at: AwareDatetime | None = None  # the author edited it: re-published under the same id
    # optional and None when unused, so a plain mention's record stays as it was (exclude_none)
    truncated: bool | None = None  # True: the text was cut at a word boundary to MAX_TEXT_CHARS
    created_at_note: ShortText | None = None  # why created_at is not the platform's own (no date, ...)
    links: list[Annotated[str, StringConstraints(max_length=2048)]] | None = None  # full URLs (facets, link posts)
    link_titles: list[ShortText] | None = None  # titles of link cards / linked pages, searchable
    media_alt: list[ShortText] | None = None  # alt text of its images, searchable
    raw: dict[str, Any] | None = None  # the platform's payload, for audits; not searched

    @property
    def customer_key(self) -> str:
        return customer_key(self.source, self.author.handle)


def customer_key(source: str, handle: str) -> str:
    """Stable partition key per author, until linked identities map accounts to customers."""
    return f"{source}:{handle.strip().lstrip('@').lower()}"


def mention_id(source: str, native_id: str) -> str:
    return f"{source}:{native_id}"


def stable_native_id(*parts: str) -> str:
    """A deterministic id for sources that have none of their own (e.g. a CSV row)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


class Flags(_Strict):
    profanity: bool = False
    legal_threat: bool = False
    safety: bool = False
    press: bool = False
    influencer: bool = False
    abusive: bool = False  # insults, slurs, threats: the only posts to delete (see `moderation`)
    claim: bool = False  # damages / compensation asked
    data_leak: bool = False


class Tone(_Strict):
    formality: Literal["formal", "informal", "unknown"] = "unknown"
    emoji: bool = False
    markers: list[str] = []  # the cues that decided it ("u", "Dear", "ff", an emoji), so a reply can mirror them


class MentionLabel(StrEnum):
    """Every label a mention can carry: its base `MessageType` plus labels that need history."""

    complaint = "complaint"
    question = "question"
    suggestion = "suggestion"
    compliment = "compliment"
    other = "other"
    repeated_negativity = "repeated_negativity"


class RepeatedNegativity(_Strict):
    """Why a mention is repeated negativity: the same story earlier, or on other sites, in a window."""

    earlier_ids: list[str]
    sources: list[str]  # every source (incl. this mention's) the story appeared on
    sites: list[str] = []  # source plus host, e.g. "review_site:reviews.example"
    window_hours: Annotated[float, Field(gt=0)]
    rule: Annotated[str, StringConstraints(max_length=200)]


class PersonaChange(_Strict):
    from_persona: Persona
    to_persona: Persona
    reason: Annotated[str, StringConstraints(max_length=500)]


class Moderation(_Strict):
    action: Literal["delete", "report", "none"]
    reason: Annotated[str, StringConstraints(max_length=500)]


class ClassifiedMention(RawMention):
    """What the pipeline publishes to `mentions.classified` and indexes."""

    type: MessageType
    type_scores: dict[MessageType, Annotated[float, Field(ge=0, le=1)]]
    sentiment: Sentiment
    sentiment_score: Annotated[float, Field(ge=-1, le=1)]
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    persona: Persona | None = None
    language: Annotated[str, StringConstraints(max_length=16)] | None = None
    severity: Annotated[int, Field(ge=0, le=3)] = 0
    flags: Flags = Flags()
    tone: Tone = Tone()
    should_respond: bool | None = None
    respond_by: AwareDatetime | None = None
    suggested_reply: str | None = None
    # --- triage (docs/triage.md); optional, so older records still read
    labels: list[MentionLabel] = []  # base type first, then e.g. repeated_negativity
    repeated_negativity: RepeatedNegativity | None = None
    persona_confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    persona_reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    persona_change: PersonaChange | None = None
    language_confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    severity_reasons: list[str] = []
    profanity_terms: list[str] = []
    moderation: Moderation | None = None
    respond_rule: Annotated[str, StringConstraints(max_length=200)] | None = None
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    processed_at: AwareDatetime
    pipeline_latency_ms: Annotated[float, Field(ge=0)] | None = None

    @classmethod
    def from_raw(cls, raw: RawMention, **fields: Any) -> "ClassifiedMention":
        return cls(**{**dict(raw), **fields})


def utc_latency_ms(start: datetime | None, end: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, (end - start).total_seconds() * 1000.0)
