"""Mastodon: the streaming API (server-sent events) with the REST API as catch-up and fallback.

Streams: `hashtag:<tag>` (GET /api/v1/streaming/hashtag?tag=), `public`, `public:local`;
`search:<query>` is polled (GET /api/v2/search?type=statuses). SSE has no resume point, so
the cursor per stream is the newest status id seen: after a disconnect or a restart the
connector first reads the REST timeline since that id (`min_id`, oldest page first), then
reopens the stream; dedupe by status URI drops what both deliver. With `mode = "poll"` the
REST timelines are polled instead (instances that disable streaming).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from httpx_sse import EventSource
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.live import Event, LiveConnector, Post, parse_time
from connectors.runtime.text import html_to_text
from schemas.mention import Author, Source


class MastodonConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_MASTODON_")
    kind = "mastodon"

    base_url: str = Field(description="the instance, e.g. https://mastodon.social")
    streams: list[str] = Field(min_length=1, description='"hashtag:<tag>", "public", "public:local", "search:<query>"')
    domain: str | None = Field(None, description="account domain of local users (default: the host of base_url)")
    access_token: SecretStr | None = Field(None, description="needed for search and on instances that require it")
    mode: Literal["stream", "poll"] = Field("stream", description="stream (SSE) or poll the REST timelines")
    poll_interval_seconds: float = Field(60.0, gt=0)
    page_size: int = Field(40, ge=1, le=40)
    catch_up_pages: int = Field(10, ge=1, description="REST pages read after a gap (40 statuses each)")
    heartbeat_timeout_seconds: float = Field(60.0, gt=0, description="reconnect when the stream is silent this long")


def _newer(a: str | None, b: str | None) -> str | None:
    """Mastodon ids are numeric strings that sort by time."""
    if not a or not (b and b.isdigit()):
        return a or (b if b and b.isdigit() else None)
    return b if (len(b), b) > (len(a), a) else a


class MastodonConnector(LiveConnector):
    kind = "mastodon"
    source = Source.mastodon
    Config = MastodonConfig
    summary = "Mastodon streaming API (SSE: hashtag, public, local) with REST catch-up and search polling"
    config: MastodonConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base = self.config.base_url.rstrip("/")
        self.host = self.config.domain or urlsplit(self.base).netloc

    def stream_keys(self) -> list[str]:
        return list(self.config.streams)

    @property
    def _auth(self) -> dict[str, str]:
        token = self.config.access_token
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    async def stream(self, key: str) -> AsyncIterator[Event]:
        live = self.config.mode == "stream" and not key.startswith("search:")
        if live:
            if self.cursor.get(key):  # a gap since the last status: fill it from REST first
                async for event in self.catch_up(key):
                    yield event
            async for event in self._sse(key):
                yield event
            return
        while True:
            async for event in self.catch_up(key):
                yield event
            yield Event(commit=True)
            await asyncio.sleep(self.config.poll_interval_seconds)

    async def _sse(self, key: str) -> AsyncIterator[Event]:
        path, params = _stream_endpoint(key)
        timeout = httpx.Timeout(self.config.request_timeout_seconds, read=self.config.heartbeat_timeout_seconds)
        async with self.open_stream("GET", self.base + path, params=params, headers=self._auth,
                                    timeout=timeout) as response:
            async for sse in EventSource(response).aiter_sse():
                if sse.event != "update":
                    continue  # delete, status.update, notification...: not new mentions
                try:
                    doc = json.loads(sse.data)
                except ValueError:
                    yield Event(payload=sse.data)  # the base class dead-letters it
                    continue
                cursor = _newer(self.cursor.get(key), doc.get("id") if isinstance(doc, dict) else None)
                yield Event(payload=doc, original=sse.data.encode(), cursor=cursor)

    async def catch_up(self, key: str) -> AsyncIterator[Event]:
        """Statuses since the cursor, oldest page first (`min_id` pages forward in time)."""
        path, params = _rest_endpoint(key)
        since = self.cursor.get(key)
        for _ in range(self.config.catch_up_pages):
            query = {**params, "limit": self.config.page_size, **({"min_id": since} if since else {})}
            response = await self.request("GET", self.base + path, params=query, headers=self._auth)
            doc = response.json()
            page = doc.get("statuses", []) if isinstance(doc, dict) else doc
            if not isinstance(page, list):
                self.process(response.content)  # dead-letters the odd shape
                return
            ordered = sorted((s for s in page if isinstance(s, dict)), key=lambda s: _id_key(s.get("id")))
            for status in ordered:
                since = _newer(since, status.get("id"))
                yield Event(payload=status, cursor=since)
            yield Event(cursor=since, commit=True)
            if len(page) < self.config.page_size or not since:
                return  # caught up (a first poll without a cursor reads one page)

    def parse(self, doc: Any) -> Iterable[Post]:
        status = doc.get("reblog") or doc  # a boost carries the original post
        account = status["account"]
        acct = self._full(account["acct"])
        text = html_to_text(status["content"])
        if status.get("spoiler_text"):
            text = f"{status['spoiler_text']}\n{text}"
        places = [self._full(m["acct"]) for m in status.get("mentions") or [] if m.get("acct")]
        if status.get("in_reply_to_account_id"):
            places.append(str(status["in_reply_to_account_id"]))
        yield Post(
            native_id=status.get("uri") or f"{self.host}/{status['id']}", text=text,
            author=Author(handle=acct, display_name=(account.get("display_name") or None) and account["display_name"][:500],
                          followers=account.get("followers_count") if isinstance(account.get("followers_count"), int)
                          else None),
            created_at=parse_time(status["created_at"]), url=status.get("url") or status.get("uri"),
            lang=status.get("language"), in_reply_to=status.get("in_reply_to_id"), places=tuple(places),
            raw={k: status.get(k) for k in ("id", "uri", "url", "created_at", "visibility", "language")})

    def _full(self, acct: str) -> str:
        return acct if "@" in acct else f"{acct}@{self.host}"


def _id_key(value: Any) -> tuple[int, str]:
    text = str(value or "")
    return len(text), text


def _stream_endpoint(key: str) -> tuple[str, dict[str, str]]:
    if key.startswith("hashtag:"):
        return "/api/v1/streaming/hashtag", {"tag": key.split(":", 1)[1]}
    if key == "public:local":
        return "/api/v1/streaming/public/local", {}
    if key == "public":
        return "/api/v1/streaming/public", {}
    raise ValueError(f"unknown Mastodon stream {key!r}")


def _rest_endpoint(key: str) -> tuple[str, dict[str, str]]:
    if key.startswith("hashtag:"):
        return f"/api/v1/timelines/tag/{quote(key.split(':', 1)[1], safe='')}", {}
    if key == "public:local":
        return "/api/v1/timelines/public", {"local": "true"}
    if key == "public":
        return "/api/v1/timelines/public", {}
    if key.startswith("search:"):
        return "/api/v2/search", {"q": key.split(":", 1)[1], "type": "statuses", "resolve": "false"}
    raise ValueError(f"unknown Mastodon stream {key!r}")
