"""RSS/Atom feeds: blogs, fora, news and review sites that publish a feed.

Each feed is polled on its own schedule with a conditional GET (If-None-Match /
If-Modified-Since), so an unchanged feed costs one 304. Entries are deduplicated by their
id (guid), or link, or a hash of title, text and date (two entries without id, link and
date stay two). The cursor per feed is its ETag and Last-Modified; the remembered ids drop
the entries a changed feed still carries.

Dates: feedparser's parsed date, else the date string read by `dateparser` (any language:
"Seg, 24 Set 2018"), else the ingest time with `created_at_note` saying so. Language: the
entry's own (dc:language, or the xml:lang of its content/summary/title), else the feed's.
HTML escaped twice (`&lt;p&gt;`) is reduced to text like HTML escaped once. Text over the
limit is truncated by the base class.
"""
from __future__ import annotations

import asyncio
import calendar
import hashlib
import re
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import dateparser
import feedparser
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.live import Event, LiveConnector, Post
from connectors.runtime.text import html_to_text
from schemas import DeadLetterReason
from schemas.mention import Author, Channel, Source, stable_native_id


class FeedConfig(BaseModel):
    url: str
    source: Source = Field(Source.rss, description="rss, news, forum or review_site")
    brand: str | None = Field(None, description="every entry is about this brand (e.g. its review page)")
    own: bool = Field(False, description="the brand's own blog or forum: channel = own")


class RssConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_RSS_")
    kind = "rss"

    feeds: list[FeedConfig | str] = Field(min_length=1, description="feed URLs, or tables {url, source, brand, own}")
    poll_interval_seconds: float = Field(300.0, gt=0, description="seconds between polls of one feed")
    max_concurrency: int = Field(8, ge=1, description="feeds fetched at the same time")
    max_text_chars: int | None = Field(None, ge=100, description="deprecated, ignored: text over the limit is "
                                                                 "truncated (and marked) by the base class")

    def feed_list(self) -> list[FeedConfig]:
        return [f if isinstance(f, FeedConfig) else FeedConfig(url=f) for f in self.feeds]


class RssConnector(LiveConnector):
    kind = "rss"
    source = Source.rss
    Config = RssConfig
    summary = "RSS/Atom feeds (blogs, fora, news, review sites): conditional GET, many feeds, dedupe"
    config: RssConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.feeds = {f.url: f for f in self.config.feed_list()}
        self._slots = asyncio.Semaphore(self.config.max_concurrency)

    def stream_keys(self) -> list[str]:
        return list(self.feeds)

    async def stream(self, key: str) -> AsyncIterator[Event]:
        feed = self.feeds[key]
        while True:
            state = dict(self.cursor.get(key) or {})
            headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
            if state.get("etag"):
                headers["If-None-Match"] = state["etag"]
            if state.get("modified"):
                headers["If-Modified-Since"] = state["modified"]
            async with self._slots:
                response = await self.request("GET", feed.url, headers=headers)
            if response.status_code == 304:
                yield Event(cursor=state)
            else:
                new_state = {"etag": response.headers.get("etag"), "modified": response.headers.get("last-modified")}
                async for event in self._entries(feed, response.content, response.headers, state, new_state):
                    yield event
                yield Event(cursor=new_state, commit=True)
            await asyncio.sleep(self.config.poll_interval_seconds)

    async def _entries(self, feed: FeedConfig, body: bytes, headers: Any, state: dict[str, Any],
                       new_state: dict[str, Any]) -> AsyncIterator[Event]:
        parsed = await asyncio.to_thread(feedparser.parse, body, response_headers={
            "content-type": headers.get("content-type", "application/xml"), "content-location": feed.url})
        if parsed.get("bozo") and not parsed.entries:
            digest = hashlib.sha256(body).hexdigest()[:16]
            new_state["bad_sha"] = digest
            if state.get("bad_sha") != digest:  # dead-letter a broken feed once, not at every poll
                self.reject(DeadLetterReason.malformed_xml,
                            f"unreadable feed {feed.url}: {parsed.get('bozo_exception')}", body)
            return
        lang = parsed.feed.get("language")
        for entry, when in _oldest_first(parsed.entries, lang):
            try:
                post = self.entry_post(feed, parsed.feed, entry, lang, when=when)
            except (KeyError, TypeError, ValueError) as exc:
                self.reject(DeadLetterReason.schema_violation, f"unreadable entry in {feed.url}: {exc}",
                            repr(dict(entry)).encode())
                continue
            yield Event(payload=post)

    def entry_post(self, feed: FeedConfig, meta: Any, entry: Any, lang: str | None, *,
                   when: tuple[datetime | None, str | None] | None = None) -> Post:
        title = feed_text(entry.get("title") or "")
        content = entry.get("content") or []
        summary = entry.get("summary") or ""
        # the full content when the entry has it, else the summary (RSS description)
        body_detail = content[0] if content and content[0].get("value") else entry.get("summary_detail") or {}
        body = feed_text(body_detail.get("value") or summary)
        text = "\n".join(t for t in dict.fromkeys((title, body)) if t)
        if not text:
            raise ValueError("an item needs a title or a description (RSS 2.0), an entry a title (Atom)")
        created, note = when if when is not None else entry_time(entry, lang)
        if created is None:
            created = datetime.now(UTC)
        raw_date = _own(entry, "published") or _own(entry, "updated") or ""
        native = entry.get("id") or entry.get("link") or stable_native_id(feed.url, title, body, raw_date)
        if len(native) > 200 or any(c.isspace() for c in native):
            native = stable_native_id(feed.url, native)
        site = urlsplit(feed.url).netloc
        author = (entry.get("author") or meta.get("title") or site).strip()[:200] or site
        entry_lang = entry_language(entry, body_detail) or lang
        return Post(
            native_id=native, text=text, author=Author(handle=author, display_name=author[:500]),
            created_at=created, created_at_note=note, url=entry.get("link"),
            lang=(entry_lang or None) and entry_lang.replace("_", "-")[:16], places=(site,),
            brand_hint=feed.brand, source=feed.source, channel=Channel.own if feed.own else None,
            raw={"feed": feed.url, "id": entry.get("id"), "link": entry.get("link"), "title": title[:500],
                 "date": raw_date[:100] or None})


NO_DATE_NOTE = "no date in the feed item: ingest time"
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")


def feed_text(value: str) -> str:
    """Plain text from a feed's HTML, also when it was escaped twice (`&lt;p&gt;` after XML decoding)."""
    text = html_to_text(value)
    for _ in range(2):
        if not _TAG.search(text) and "&" not in text:
            break
        again = html_to_text(text)
        if again == text:
            break
        text = again
    return text


def entry_language(entry: Any, body_detail: Any) -> str | None:
    """The entry's own language: dc:language, else the xml:lang of its text (content/summary, then title)."""
    for value in (entry.get("language"), body_detail.get("language"),
                  (entry.get("summary_detail") or {}).get("language"), (entry.get("title_detail") or {}).get("language")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def entry_time(entry: Any, lang: str | None = None) -> tuple[datetime | None, str | None]:
    """(created_at, note): feedparser's parsed date; else the date string read by dateparser (any
    language); else (None, note) and the caller uses the ingest time."""
    parsed = _own(entry, "published_parsed") or _own(entry, "updated_parsed") or _own(entry, "created_parsed")
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC), None
    raw = _own(entry, "published") or _own(entry, "updated") or _own(entry, "created")
    if not raw or not str(raw).strip():
        return None, NO_DATE_NOTE
    when = parse_any_date(str(raw), entry_language(entry, {}) or lang)
    if when is None:
        return None, f"unreadable date in the feed item ({str(raw)[:60]}): ingest time"
    return when, None


def _own(entry: Any, key: str) -> Any:
    """The entry's own value (`in` does not apply feedparser's deprecated updated->published fallback)."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def parse_any_date(value: str, lang: str | None = None) -> datetime | None:
    settings = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC",
                "PREFER_DAY_OF_MONTH": "first", "DATE_ORDER": "DMY"}
    hint = (lang or "").replace("_", "-").split("-")[0].lower() or None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dateparser warns about pytz/regex internals
        when = None
        if hint:
            try:
                when = dateparser.parse(value, languages=[hint], settings=settings)
            except ValueError:  # a language dateparser does not know
                when = None
        if when is None:
            when = dateparser.parse(value, settings=settings)
    return when.astimezone(UTC) if when is not None else None


def _oldest_first(entries: list[Any], lang: str | None = None) -> list[tuple[Any, tuple[datetime | None, str | None]]]:
    timed = [(e, entry_time(e, lang)) for e in entries]
    if all(when for _, (when, _note) in timed):
        return sorted(timed, key=lambda pair: pair[1][0])  # type: ignore[arg-type, return-value]
    return list(reversed(timed))  # feeds list newest first
