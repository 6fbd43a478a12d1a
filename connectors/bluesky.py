"""Bluesky through Jetstream: a WebSocket of JSON events, resumable by a time cursor.

Subscribes to `app.bsky.feed.post` (optionally only some DIDs) and matches brands on the
post text client-side. The cursor is the `time_us` of the last event handled; a reconnect
or restart resumes from it minus `rewind_seconds` (Jetstream's advice for gapless playback)
and dedupe by record URI drops the overlap. Jetstream carries DIDs, not handles: `identity`
events, the `handles` table and the mention facets of posts (`@handle` over a DID) name the
authors we know; a DID stands in only for an author never named.

Events: a post `create` is a post; an `update` is an edit (re-published with `edited_at`); a
`delete` is a `Deletion`; a post with no text uses its image alt texts or link-card title, and
is ignored (`no_text`) without them. Link facets give the full URLs (and replace the shortened
link text), link cards their titles, images their alt texts. An `error` frame from Jetstream
ends the stream (reconnect with backoff).
"""
from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlencode

import websockets
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from websockets.exceptions import InvalidStatus

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.http import raise_for_status
from connectors.runtime.live import BadPayload, Deletion, Event, Ignored, LiveConnector, PlatformError, Post, parse_time
from schemas import DeadLetterReason
from schemas.mention import Author, Source

POST = "app.bsky.feed.post"
MAX_HANDLES = 100_000  # DID -> handle entries kept (the oldest learned go first)
_HANDLE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.[a-z0-9-]+$", re.IGNORECASE)
_ELLIPSIS = ("...", "…")


class BlueskyConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_BLUESKY_")
    kind = "bluesky"

    url: str = Field("wss://jetstream2.us-east.bsky.network/subscribe", description="Jetstream subscribe URL")
    wanted_dids: list[str] = Field(default_factory=list, description="only these repos (empty: everyone)")
    handles: dict[str, str] = Field(default_factory=dict, description="DID -> handle for authors we know")
    rewind_seconds: float = Field(5.0, ge=0, description="resume this much before the cursor")
    max_message_bytes: int = Field(1024 * 1024, ge=1024)
    open_timeout_seconds: float = Field(10.0, gt=0)


def _did_of(uri: str | None) -> str | None:
    if uri and uri.startswith("at://"):
        return uri[5:].split("/", 1)[0]
    return None


class BlueskyConnector(LiveConnector):
    kind = "bluesky"
    source = Source.bluesky
    Config = BlueskyConfig
    summary = "Bluesky Jetstream (WebSocket, JSON events, resume by time cursor), keyword/handle matching"
    config: BlueskyConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.handles = dict(self.config.handles)

    def subscribe_url(self) -> str:
        params: list[tuple[str, str]] = [("wantedCollections", POST)]
        params += [("wantedDids", d) for d in self.config.wanted_dids]
        cursor = self.cursor.get("main")
        if isinstance(cursor, int):
            params.append(("cursor", str(max(0, cursor - int(self.config.rewind_seconds * 1_000_000)))))
        return f"{self.config.url}?{urlencode(params)}"

    async def stream(self, key: str) -> AsyncIterator[Event]:
        try:
            connection = await websockets.connect(
                self.subscribe_url(), max_size=self.config.max_message_bytes,
                open_timeout=self.config.open_timeout_seconds, user_agent_header=self.config.user_agent)
        except InvalidStatus as exc:  # e.g. 429 with Retry-After on the handshake
            raise_for_status(exc.response.status_code, exc.response.headers, exc.response.body or b"")
            raise
        async with connection as ws:
            async for message in ws:
                yield self.event_for(message.encode() if isinstance(message, str) else message)

    def event_for(self, raw: bytes) -> Event:
        """One Jetstream frame as an event: posts (create/update/delete) to parse, identity events
        to learn handles from, everything else moves the cursor; an error frame ends the stream."""
        try:
            doc = json.loads(raw)
        except ValueError:
            return Event(payload=raw)  # dead-lettered by the base class
        if not isinstance(doc, dict):
            return Event(payload=raw)
        cursor = doc.get("time_us") if isinstance(doc.get("time_us"), int) else None
        kind = doc.get("kind")
        commit = doc.get("commit")
        if kind == "identity" and isinstance(doc.get("identity"), dict):
            self.learn_identity(doc)
            return Event(cursor=cursor)
        if kind == "commit" and isinstance(commit, dict) and commit.get("collection") == POST \
                and commit.get("operation") in ("create", "update", "delete"):
            return Event(payload=doc, original=raw, cursor=cursor)
        if kind in ("commit", "identity", "account"):
            return Event(cursor=cursor)  # likes, follows, account status: only the cursor moves
        if kind == "error" or (kind is None and "error" in doc):
            raise PlatformError(f"jetstream {doc.get('error') or 'error'}", str(doc.get("message") or ""))
        return Event(payload=doc, original=raw)  # not a Jetstream event: dead-letter

    def learn_identity(self, doc: dict[str, Any]) -> None:
        """An identity event names the DID's handle; one without a handle (a key rotation, a
        PDS move: Jetstream leaves it out) keeps the handle we know."""
        handle = doc["identity"].get("handle")
        did = doc.get("did") or doc["identity"].get("did")
        if isinstance(handle, str) and _HANDLE.match(handle) and isinstance(did, str) and did:
            self.remember(did, handle.lower(), override=True)

    def remember(self, did: str, handle: str, *, override: bool = False) -> None:
        if did in self.handles and not override:
            return
        self.handles.pop(did, None)
        self.handles[did] = handle
        while len(self.handles) > MAX_HANDLES:
            self.handles.pop(next(iter(self.handles)))

    def parse(self, doc: Any) -> Iterable[Post | Deletion]:
        if doc.get("kind") != "commit":
            raise BadPayload(DeadLetterReason.schema_violation, f"not a Jetstream event (kind={doc.get('kind')!r})")
        did, commit = doc["did"], doc["commit"]
        rkey, operation = commit["rkey"], commit.get("operation")
        if commit.get("collection") != POST:
            raise Ignored("not_a_post")
        native_id = f"{did}/{POST}/{rkey}"
        event_time = parse_time(doc["time_us"] / 1_000_000) if isinstance(doc.get("time_us"), int) else None
        if operation == "delete":
            yield Deletion(native_id, deleted_at=event_time, reason="author_deleted",
                           author_handle=self.handles.get(did, did))
            return
        if operation not in ("create", "update"):
            raise Ignored("unknown_operation")
        record = commit["record"]
        text = record.get("text", "")
        if not isinstance(text, str):
            raise TypeError("record.text is not a string")
        facets = [f for f in record.get("facets") or [] if isinstance(f, dict)]
        places = [d for d in (_did_of(((record.get("reply") or {}).get("parent") or {}).get("uri")),) if d]
        for facet in facets:
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#mention" and feature.get("did"):
                    places.append(feature["did"])
                    named = _slice(text, facet.get("index")).lstrip("@").strip()
                    if _HANDLE.match(named):
                        self.remember(feature["did"], named.lower())  # the post names the mentioned DID
        places += [self.handles[p] for p in list(places) if p in self.handles]
        text, links = _expand_links(text, facets)
        titles, alts = [], []
        _embed(record.get("embed"), links, titles, alts)
        if not text.strip():
            text = "\n".join(alts or titles)  # an image/GIF-only post: what describes the media
            if not text.strip():
                raise Ignored("no_text")
        handle = self.handles.get(did, did)
        created = record.get("createdAt")
        langs = record.get("langs") or []
        yield Post(
            native_id=native_id, text=text, author=Author(handle=handle),
            created_at=parse_time(created) if created else event_time or parse_time(doc["time_us"] / 1_000_000),
            created_at_note=None if created else "record has no createdAt: Jetstream time_us",
            edited_at=(event_time or parse_time(record.get("createdAt"))) if operation == "update" else None,
            url=f"https://bsky.app/profile/{did}/post/{rkey}", lang=langs[0][:16] if langs else None,
            in_reply_to=((record.get("reply") or {}).get("parent") or {}).get("uri"), places=tuple(places),
            author_ids=(did,), links=tuple(dict.fromkeys(links)), link_titles=tuple(dict.fromkeys(titles)),
            media_alt=tuple(alts),
            raw={"did": did, "time_us": doc.get("time_us"), "rkey": rkey, "cid": commit.get("cid"),
                 "operation": operation})


def _slice(text: str, index: Any) -> str:
    """The text a facet covers (facet offsets count UTF-8 bytes)."""
    if not isinstance(index, dict):
        return ""
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
        return ""
    return text.encode()[start:end].decode(errors="ignore")


def _expand_links(text: str, facets: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The full URLs of the link facets, and the text with each shortened link text
    ("www.example.com/pa...") replaced by its full URL."""
    data, links, spans = text.encode(), [], []
    for facet in facets:
        for feature in facet.get("features") or []:
            uri = feature.get("uri") if feature.get("$type") == "app.bsky.richtext.facet#link" else None
            if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
                continue
            links.append(uri)
            index = facet.get("index") or {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data):
                shown = data[start:end].decode(errors="ignore")
                if shown.endswith(_ELLIPSIS) and _bare(uri).startswith(_bare(shown).rstrip(".…")):
                    spans.append((start, end, uri))
    for start, end, uri in sorted(spans, reverse=True):
        if all(e <= start or s >= end for s, e, _ in spans if (s, e) != (start, end)):
            data = data[:start] + uri.encode() + data[end:]
    return data.decode(errors="ignore"), links


def _bare(url: str) -> str:
    return re.sub(r"^https?://", "", url.strip())


def _embed(embed: Any, links: list[str], titles: list[str], alts: list[str]) -> None:
    """Link cards (title, URL), image and video alt texts; a quote with media has both."""
    if not isinstance(embed, dict):
        return
    kind = embed.get("$type")
    if kind == "app.bsky.embed.external" and isinstance(embed.get("external"), dict):
        card = embed["external"]
        if isinstance(card.get("uri"), str) and card["uri"].startswith(("http://", "https://")):
            links.append(card["uri"])
        if isinstance(card.get("title"), str) and card["title"].strip():
            titles.append(card["title"].strip())
    elif kind == "app.bsky.embed.images":
        alts += [i["alt"].strip() for i in embed.get("images") or []
                 if isinstance(i, dict) and isinstance(i.get("alt"), str) and i["alt"].strip()]
    elif kind == "app.bsky.embed.video":
        if isinstance(embed.get("alt"), str) and embed["alt"].strip():
            alts.append(embed["alt"].strip())
    elif kind == "app.bsky.embed.recordWithMedia":
        _embed(embed.get("media"), links, titles, alts)
