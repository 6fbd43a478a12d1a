"""RSS/Atom feeds: blogs, fora, news and review sites that publish a feed.

Each feed is polled on its own schedule with a conditional GET (If-None-Match /
If-Modified-Since), so an unchanged feed costs one 304. Entries are deduplicated by their
id (guid), or link, or a hash of title and date. The cursor per feed is its ETag and
Last-Modified; the remembered ids drop the entries a changed feed still carries.
"""
from __future__ import annotations

import asyncio
import calendar
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

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
    max_text_chars: int = Field(4000, ge=100, description="title + summary are cut to this length")

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
        for entry in _oldest_first(parsed.entries):
            try:
                post = self.entry_post(feed, parsed.feed, entry, lang)
            except (KeyError, TypeError, ValueError) as exc:
                self.reject(DeadLetterReason.schema_violation, f"unreadable entry in {feed.url}: {exc}",
                            repr(dict(entry)).encode())
                continue
            yield Event(payload=post)

    def entry_post(self, feed: FeedConfig, meta: Any, entry: Any, lang: str | None) -> Post:
        title = html_to_text(entry.get("title") or "")
        body = entry.get("summary") or (entry.get("content") or [{}])[0].get("value") or ""
        text = "\n".join(t for t in (title, html_to_text(body)) if t)[: self.config.max_text_chars]
        if not text:
            raise ValueError("an item needs a title or a description (RSS 2.0), an entry a title (Atom)")
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        created = datetime.fromtimestamp(calendar.timegm(when), timezone.utc) if when else datetime.now(timezone.utc)
        native = entry.get("id") or entry.get("link") or stable_native_id(feed.url, title, str(when))
        if len(native) > 200 or any(c.isspace() for c in native):
            native = stable_native_id(feed.url, native)
        site = urlsplit(feed.url).netloc
        author = (entry.get("author") or meta.get("title") or site).strip()[:200] or site
        return Post(
            native_id=native, text=text, author=Author(handle=author, display_name=author[:500]),
            created_at=created, url=entry.get("link"), lang=(lang or None) and lang[:16], places=(site,),
            brand_hint=feed.brand, source=feed.source, channel=Channel.own if feed.own else None,
            raw={"feed": feed.url, "id": entry.get("id"), "link": entry.get("link"), "title": title[:500]})


def _oldest_first(entries: list[Any]) -> list[Any]:
    dated = [e for e in entries if e.get("published_parsed") or e.get("updated_parsed")]
    if len(dated) == len(entries):
        return sorted(entries, key=lambda e: calendar.timegm(e.get("published_parsed") or e.get("updated_parsed")))
    return list(reversed(entries))  # feeds list newest first
