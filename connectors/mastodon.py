"""Mastodon: the streaming API (server-sent events) with the REST API as catch-up and fallback.

Streams: `hashtag:<tag>` (GET /api/v1/streaming/hashtag?tag=), `public`, `public:local`;
`search:<query>` is polled (GET /api/v2/search?type=statuses). SSE has no resume point, so
the cursor per stream is the newest status id seen: after a disconnect or a restart the
connector first reads the REST timeline since that id (`min_id`, oldest page first), then
reopens the stream; dedupe by status URI drops what both deliver. With `mode = "poll"` the
REST timelines are polled instead (instances that disable streaming).

Events: `update` is a new status, `status.update` an edit (re-published with `edited_at`),
`delete` (the status id) a `Deletion`; other events (notification, announcement, ...) are
skipped. Private and direct statuses (visible to a token's owner in REST catch-up) are ignored
(`not_public`); a status with no text uses its media descriptions or card title, else it is
ignored (`no_text`). Media descriptions are `media_alt`, the card title `link_titles`, links in
the content (not mentions or hashtags) and the card URL `links`. An `{"error": ...}` object in
the stream ends it (reconnect with backoff).
"""
from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from httpx_sse import EventSource
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.live import Deletion, Event, Ignored, LiveConnector, PlatformError, Post, parse_time
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
        self.known: OrderedDict[str, tuple[str, str]] = OrderedDict()  # status id -> (native id, author)

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
                event = self.event_for(key, sse.event, sse.data)
                if event is not None:
                    yield event

    def event_for(self, key: str, name: str, data: str) -> Event | None:
        """One server-sent event as a connector event (None: not for us). `update` and
        `status.update` carry a status, `delete` the id of one."""
        if name == "delete":
            status_id = data.strip()
            native_id, author = self.known.get(status_id, (f"{self.host}/{status_id}", None))
            return Event(payload=Deletion(native_id, reason="author_deleted", author_handle=author))
        if name not in ("update", "status.update"):
            try:
                doc = json.loads(data)
            except ValueError:
                return None
            if isinstance(doc, dict) and "error" in doc:
                raise PlatformError("mastodon stream error", str(doc["error"]))
            return None  # notification, announcement, filters_changed, conversation...
        try:
            doc = json.loads(data)
        except ValueError:
            return Event(payload=data)  # the base class dead-letters it
        if isinstance(doc, dict) and "error" in doc and "id" not in doc:
            raise PlatformError("mastodon stream error", str(doc["error"]))
        if isinstance(doc, dict) and name == "status.update":
            doc = {**doc, "edited_at": doc.get("edited_at") or datetime.now(timezone.utc).isoformat()}
        cursor = _newer(self.cursor.get(key), doc.get("id") if isinstance(doc, dict) else None)
        return Event(payload=doc, original=data.encode(), cursor=cursor)

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
        for visibility in (doc.get("visibility"), status.get("visibility")):
            if visibility in ("private", "direct"):
                raise Ignored("not_public")
        account = status["account"]
        acct = self._full(account["acct"])
        native_id = status.get("uri") or f"{self.host}/{status['id']}"
        self._remember(str(status["id"]), native_id, acct)
        if doc is not status and doc.get("id") is not None:
            self._remember(str(doc["id"]), native_id, acct)
        text = html_to_text(status["content"])
        if status.get("spoiler_text"):
            text = f"{status['spoiler_text']}\n{text}"
        media_alt = tuple(m["description"].strip() for m in status.get("media_attachments") or []
                          if isinstance(m, dict) and isinstance(m.get("description"), str) and m["description"].strip())
        card = status.get("card") if isinstance(status.get("card"), dict) else {}
        titles = tuple(t for t in ((card.get("title") or "").strip(),) if t)
        links = _links(status["content"])
        if isinstance(card.get("url"), str) and card["url"].startswith(("http://", "https://")):
            links.append(card["url"])
        if not text.strip():
            text = "\n".join(media_alt or titles)
            if not text.strip():
                raise Ignored("no_text")
        places = [self._full(m["acct"]) for m in status.get("mentions") or [] if m.get("acct")]
        if status.get("in_reply_to_account_id"):
            places.append(str(status["in_reply_to_account_id"]))
        yield Post(
            native_id=native_id, text=text,
            author=Author(handle=acct, display_name=(account.get("display_name") or None) and account["display_name"][:500],
                          followers=account.get("followers_count") if isinstance(account.get("followers_count"), int)
                          else None),
            created_at=parse_time(status["created_at"]), url=status.get("url") or status.get("uri"),
            edited_at=parse_time(status["edited_at"]) if status.get("edited_at") else None,
            lang=status.get("language"), in_reply_to=status.get("in_reply_to_id"), places=tuple(places),
            links=tuple(dict.fromkeys(links)), link_titles=titles, media_alt=media_alt,
            raw={k: status.get(k) for k in ("id", "uri", "url", "created_at", "edited_at", "visibility", "language")})

    def _remember(self, status_id: str, native_id: str, acct: str) -> None:
        """Status id -> native id and author: a `delete` event names only the id."""
        self.known[status_id] = (native_id, acct)
        self.known.move_to_end(status_id)
        while len(self.known) > self.config.dedupe_window:
            self.known.popitem(last=False)

    def _full(self, acct: str) -> str:
        return acct if "@" in acct else f"{acct}@{self.host}"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag != "a":
            return
        a = {k: v or "" for k, v in attrs}
        if "mention" in a.get("class", "").split() or "hashtag" in a.get("class", "").split() \
                or "tag" in a.get("rel", "").split():
            return
        if a.get("href", "").startswith(("http://", "https://")):
            self.links.append(a["href"])


def _links(html: Any) -> list[str]:
    """The links in a status' content (full hrefs), without mentions and hashtags."""
    if not isinstance(html, str) or "<a" not in html:
        return []
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser.links


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
