"""Bluesky through Jetstream: a WebSocket of JSON events, resumable by a time cursor.

Subscribes to `app.bsky.feed.post` (optionally only some DIDs) and matches brands on the
post text client-side. The cursor is the `time_us` of the last event handled; a reconnect
or restart resumes from it minus `rewind_seconds` (Jetstream's advice for gapless playback)
and dedupe by record URI drops the overlap. Jetstream carries DIDs, not handles: `identity`
events and the `handles` table name the authors we know.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlencode

import websockets
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from websockets.exceptions import InvalidStatus

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.http import raise_for_status
from connectors.runtime.live import BadPayload, Event, LiveConnector, Post, parse_time
from schemas import DeadLetterReason
from schemas.mention import Author, Source

POST = "app.bsky.feed.post"


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
                raw = message.encode() if isinstance(message, str) else message
                try:
                    doc = json.loads(raw)
                except ValueError:
                    yield Event(payload=raw)  # dead-lettered by the base class
                    continue
                if not isinstance(doc, dict):
                    yield Event(payload=raw)
                    continue
                cursor = doc.get("time_us") if isinstance(doc.get("time_us"), int) else None
                kind = doc.get("kind")
                if kind == "identity" and isinstance(doc.get("identity"), dict):
                    handle = doc["identity"].get("handle")
                    if handle and doc.get("did"):
                        self.handles[doc["did"]] = handle
                    yield Event(cursor=cursor)
                elif kind == "commit" and isinstance(doc.get("commit"), dict) \
                        and doc["commit"].get("operation") == "create" and doc["commit"].get("collection") == POST:
                    yield Event(payload=doc, original=raw, cursor=cursor)
                elif kind in ("commit", "identity", "account"):
                    yield Event(cursor=cursor)  # likes, deletes, account status: only the cursor moves
                else:
                    yield Event(payload=doc, original=raw)  # not a Jetstream event: dead-letter

    def parse(self, doc: Any) -> Iterable[Post]:
        if doc.get("kind") != "commit":
            raise BadPayload(DeadLetterReason.schema_violation, f"not a Jetstream event (kind={doc.get('kind')!r})")
        did, commit = doc["did"], doc["commit"]
        record, rkey = commit["record"], commit["rkey"]
        text = record["text"]
        if not isinstance(text, str):
            raise TypeError("record.text is not a string")
        places = [d for d in (_did_of(((record.get("reply") or {}).get("parent") or {}).get("uri")),) if d]
        for facet in record.get("facets") or []:
            for feature in facet.get("features") or []:
                if feature.get("$type") == "app.bsky.richtext.facet#mention" and feature.get("did"):
                    places.append(feature["did"])
        places += [self.handles[p] for p in list(places) if p in self.handles]
        handle = self.handles.get(did, did)
        created = record.get("createdAt")
        langs = record.get("langs") or []
        yield Post(
            native_id=f"{did}/{POST}/{rkey}", text=text, author=Author(handle=handle),
            created_at=parse_time(created) if created else parse_time(doc["time_us"] / 1_000_000),
            url=f"https://bsky.app/profile/{did}/post/{rkey}", lang=langs[0][:16] if langs else None,
            in_reply_to=((record.get("reply") or {}).get("parent") or {}).get("uri"), places=tuple(places),
            author_ids=(did,),
            raw={"did": did, "time_us": doc.get("time_us"), "rkey": rkey, "cid": commit.get("cid")})
