"""The base of every live connector: turn platform payloads into `RawMention`s, publish
them, dead-letter what cannot be read, and keep a checkpoint to resume from.

A connector implements `stream(key)`: an async generator of `Event`s for one stream
(a feed, a subreddit listing, a WebSocket). Each event carries a payload (platform JSON,
bytes as received, or an already-built `Post`) and/or the cursor to resume from once that
payload is handled. The base class supervises each stream: it reconnects at once after an
established connection drops, backs off (jittered, exponential) when connecting fails,
waits as long as a 429 asks, and commits the cursor only after the broker acknowledged
every mention before it (flush, then save the checkpoint).

Webhook connectors receive instead of fetch: they override `run_forever` with a server
and call `handle()` and `commit()` themselves.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from abc import ABC
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from connectors.publisher import DeliveryFailed
from connectors.runtime.checkpoint import Checkpoint, CheckpointStore, MemoryCheckpointStore
from connectors.runtime.config import ConnectorConfig
from connectors.runtime.dedupe import RecentIds
from connectors.runtime.http import NETWORK_ERRORS, HTTPFailure, RateGate, RateLimited, raise_for_status
from connectors.runtime.jsonbody import parse_json
from connectors.runtime.matching import OWN_POST, match_post
from connectors.runtime.sink import MentionSink
from core import metrics
from core.retry import Backoff
from schemas import MAX_RECORD_BYTES, MAX_TEXT_CHARS, DeadLetter, DeadLetterReason, MentionDeletion, RawMention
from schemas.mention import Author, Channel, Source, customer_key, mention_id

log = logging.getLogger(__name__)


@dataclass
class Post:
    """What a platform parser extracts from a payload; the base class adds brand and channel."""

    native_id: str
    text: str
    author: Author
    created_at: datetime
    url: str | None = None
    lang: str | None = None
    in_reply_to: str | None = None
    places: tuple[str, ...] = ()  # accounts it is on or addressed to: own-channel detection
    author_ids: tuple[str, ...] = ()  # other names of the author (numeric id, DID): own-post detection
    brand_hint: str | None = None  # the platform already knows the brand (X rule tag, webhook field)
    source: Source | None = None  # override the connector's source (generic webhook)
    channel: Channel | None = None  # override the computed channel
    edited_at: datetime | None = None  # an edit: re-published under the same id, re-classified
    links: tuple[str, ...] = ()  # full URLs (expanded link facets, the linked URL of a link post)
    link_titles: tuple[str, ...] = ()  # link-card / linked-page titles
    media_alt: tuple[str, ...] = ()  # image alt texts
    created_at_note: str | None = None  # created_at is not the platform's own (say why)
    raw: dict[str, Any] | None = None


@dataclass
class Deletion:
    """The platform says a post is gone (its author deleted it, a moderator removed it): yielded by
    `parse` like a post; the base class publishes a `MentionDeletion` for it (no content)."""

    native_id: str
    deleted_at: datetime | None = None  # None: now
    reason: str = "author_deleted"  # author_deleted | removed | hidden
    author_handle: str | None = None  # when the platform names the author: keeps it in order with the post
    source: Source | None = None


class Ignored(Exception):
    """Raised by `parse` for a payload that is fine but not for us (a non-public status, a Messenger
    delivery, a change without content, a "[deleted]" placeholder): counted with its reason, never
    dead-lettered, never published. `reason` is a short fixed word (a metric label)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PlatformError(Exception):
    """An error object inside a stream (too many connections, 401, rate limit): the stream is
    ended and reconnected with backoff (or after `retry_after` seconds), never dead-lettered."""

    def __init__(self, title: str, detail: str = "", *, retry_after: float | None = None):
        super().__init__(f"{title}: {detail}" if detail else title)
        self.title, self.detail, self.retry_after = title, detail, retry_after


class BadPayload(Exception):
    def __init__(self, reason: DeadLetterReason, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class Event:
    payload: bytes | str | dict[str, Any] | Post | None = None
    original: bytes | None = None  # the bytes received, for the dead letter, when payload is decoded
    cursor: Any = None  # where to resume once this payload is handled (None: unchanged)
    commit: bool = False  # commit now (end of a page, end of a backfill)


@dataclass
class LiveStats:
    published: int = 0
    duplicates: int = 0
    unmatched: int = 0
    own_posts: int = 0
    deleted: int = 0
    ignored: Counter = field(default_factory=Counter)
    dead_lettered: int = 0
    reconnects: int = 0
    commits: int = 0
    errors: Counter = field(default_factory=Counter)
    rate_limit_waits: list[float] = field(default_factory=list)


@dataclass
class BackoffPolicy:
    network: Backoff  # connect failed below HTTP
    http: Backoff  # an HTTP error status
    rate_limit: Backoff  # 429 without Retry-After or reset header

    def reset(self) -> None:
        for b in (self.network, self.http, self.rate_limit):
            b.reset()


class LiveConnector(ABC):
    kind: ClassVar[str]
    source: ClassVar[Source]
    Config: ClassVar[type[ConnectorConfig]]
    summary: ClassVar[str] = ""

    def __init__(self, config: ConnectorConfig, sink: MentionSink, checkpoints: CheckpointStore | None = None):
        self.config = config
        self.name = config.instance
        self.sink = sink
        self.checkpoints = checkpoints or MemoryCheckpointStore()
        self.rules = config.brand_rules()
        self.cursor: dict[str, Any] = {}
        self.seen = RecentIds(config.dedupe_window)
        self.stats = LiveStats()
        self.gates: dict[str, RateGate] = {}  # per host: one spent quota must not hold the others
        self._pending = 0
        self._last_commit = time.monotonic()
        self._commit_lock = asyncio.Lock()
        self._stop: asyncio.Event | None = None
        self._http: httpx.AsyncClient | None = None

    # ------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event | None = None) -> LiveStats:
        """Resume from the checkpoint and run until `stop` is set; commit on the way out."""
        await self.restore()
        self._stop = stop or asyncio.Event()
        worker = asyncio.create_task(self.run_forever(), name=f"{self.name}-worker")
        stopper = asyncio.create_task(self._stop.wait(), name=f"{self.name}-stop")
        failed = False
        try:
            done, _ = await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if worker in done and worker.exception() is not None:
                failed = True
                raise worker.exception()  # type: ignore[misc]
        finally:
            for task in (worker, stopper):
                task.cancel()
            await asyncio.gather(worker, stopper, return_exceptions=True)
            try:
                if not failed:
                    await self.commit()
            finally:
                await self.aclose()
            log.info("connector stopped", extra={"connector": self.name, "published": self.stats.published,
                                                 "duplicates": self.stats.duplicates,
                                                 "dead_lettered": self.stats.dead_lettered})
        return self.stats

    async def restore(self) -> None:
        checkpoint = await asyncio.to_thread(self.checkpoints.load, self.name)
        if checkpoint is not None:
            self.cursor = checkpoint.cursor
            self.seen = RecentIds(self.config.dedupe_window, checkpoint.seen)
            log.info("resuming from checkpoint", extra={"connector": self.name, "cursor": _short(checkpoint.cursor),
                                                         "seen": len(checkpoint.seen)})

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.config.request_timeout_seconds),
                headers={"User-Agent": self.config.user_agent}, follow_redirects=True)
        return self._http

    # ------------------------------------------------------------ streams
    def stream_keys(self) -> list[str]:
        return ["main"]

    def stream(self, key: str) -> AsyncIterator[Event]:
        raise NotImplementedError

    def backoff_policy(self) -> BackoffPolicy:
        c = self.config
        return BackoffPolicy(*(Backoff(c.backoff_initial_seconds, c.backoff_max_seconds) for _ in range(3)))

    async def run_forever(self) -> None:
        await asyncio.gather(*(self._supervise(key) for key in self.stream_keys()))

    async def _supervise(self, key: str) -> None:
        policy = self.backoff_policy()
        attempts = 0
        while True:
            established = False
            if attempts:
                self.stats.reconnects += 1
                metrics.CONNECTOR_RECONNECTS.labels(self.name).inc()
            attempts += 1
            try:
                async with aclosing(self.stream(key)) as events:
                    async for event in events:
                        if not established:
                            established = True
                            policy.reset()
                        self.handle(event)
                        if event.cursor is not None:
                            self.cursor[key] = event.cursor
                        if event.commit or self._commit_due():
                            await self.commit()
                log.info("stream ended; reconnecting", extra={"connector": self.name, "stream": key})
                delay = 0.0 if established else policy.network.next()
            except DeliveryFailed:
                raise  # the broker lost mentions: stop, a restart resumes from the last checkpoint
            except PlatformError as exc:
                delay = exc.retry_after if exc.retry_after is not None else policy.http.next()
                self._error("platform", key, exc, delay)
            except RateLimited as exc:
                delay = exc.delay if exc.delay is not None else policy.rate_limit.next()
                self._error("rate_limited", key, exc, delay)
                self.stats.rate_limit_waits.append(delay)
                metrics.CONNECTOR_RATE_LIMIT_WAIT.labels(self.name).inc(delay)
            except HTTPFailure as exc:
                delay = policy.http.next()
                self._error("http", key, exc, delay, level=logging.WARNING if exc.transient else logging.ERROR)
            except NETWORK_ERRORS as exc:
                # an established connection that drops is retried at once; failing to connect backs off
                delay = 0.0 if established else policy.network.next()
                self._error("network", key, exc, delay)
            except Exception as exc:  # noqa: BLE001 - a bug in one stream must not stop the others
                delay = policy.http.next()
                self._error("unexpected", key, exc, delay, level=logging.ERROR, exc_info=True)
            await self.commit()
            if delay > 0:
                await asyncio.sleep(delay)

    def _error(self, kind: str, key: str, exc: BaseException, delay: float, *, level: int = logging.WARNING,
               exc_info: bool = False) -> None:
        self.stats.errors[kind] += 1
        metrics.CONNECTOR_ERRORS.labels(self.name, kind).inc()
        log.log(level, "stream interrupted", exc_info=exc_info,
                extra={"connector": self.name, "stream": key, "kind": kind, "error": f"{type(exc).__name__}: {exc}"[:300],
                       "retry_in_s": round(delay, 2)})

    # ------------------------------------------------------------ HTTP helpers
    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request: waits out a spent quota first, raises RateLimited/HTTPFailure after."""
        await self._respect_gate(url)
        response = await self.http.request(method, url, **kwargs)
        self.gate(url).update(response.headers)
        raise_for_status(response.status_code, response.headers, response.content)
        return response

    @asynccontextmanager
    async def open_stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        await self._respect_gate(url)
        async with self.http.stream(method, url, **kwargs) as response:
            self.gate(url).update(response.headers)
            if not 200 <= response.status_code < 300:
                raise_for_status(response.status_code, response.headers, await response.aread())
            yield response

    def gate(self, url: str) -> RateGate:
        return self.gates.setdefault(urlsplit(url).netloc, RateGate())

    async def _respect_gate(self, url: str) -> None:
        wait = self.gate(url).wait_time()
        if wait > 0:
            log.info("quota spent; waiting for its reset", extra={"connector": self.name, "url": url,
                                                                  "wait_s": round(wait, 2)})
            self.stats.rate_limit_waits.append(wait)
            metrics.CONNECTOR_RATE_LIMIT_WAIT.labels(self.name).inc(wait)
            await asyncio.sleep(wait)

    # ------------------------------------------------------------ payloads
    def parse(self, doc: Any) -> Iterable[Post]:
        """Platform JSON to posts; raise BadPayload (or KeyError/TypeError/ValueError) if unreadable."""
        raise NotImplementedError

    def handle(self, event: Event) -> None:
        if isinstance(event.payload, Post):
            self.emit(event.payload)
        elif isinstance(event.payload, Deletion):
            self.delete(event.payload)
        elif event.payload is not None:
            self.process(event.payload, original=event.original)
        if event.payload is not None:
            self._pending += 1

    def process(self, payload: bytes | str | dict[str, Any], *, original: bytes | None = None) -> list[RawMention]:
        """Decode and parse one payload; publish its posts; dead-letter it if it cannot be read."""
        if isinstance(payload, (bytes, str)):
            raw = payload.encode() if isinstance(payload, str) else payload
            if len(raw) > self.config.max_payload_bytes:
                self.reject(DeadLetterReason.oversized,
                            f"payload is {len(raw)} bytes; the limit is {self.config.max_payload_bytes}", raw)
                return []
            try:
                doc = parse_json(raw)
            except UnicodeDecodeError as exc:
                self.reject(DeadLetterReason.undecodable, f"not valid UTF-8: {exc.reason} at byte {exc.start}", raw)
                return []
            except ValueError as exc:
                self.reject(DeadLetterReason.malformed_json, f"not JSON: {exc}", raw)
                return []
        else:
            doc, raw = payload, original if original is not None else _dump(payload)
        try:
            posts = list(self.parse(doc))
        except Ignored as exc:
            self.ignore(exc.reason)
            return []
        except BadPayload as exc:
            self.reject(exc.reason, exc.detail, raw)
            return []
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            self.reject(DeadLetterReason.schema_violation, f"unexpected payload shape: {type(exc).__name__}: {exc}",
                        raw)
            return []
        published = []
        for item in posts:
            if isinstance(item, Deletion):
                self.delete(item)
            elif (mention := self.emit(item, original=raw)) is not None:
                published.append(mention)
        return published

    def ignore(self, reason: str) -> None:
        self._count("ignored")
        metrics.CONNECTOR_IGNORED.labels(self.name, reason).inc()
        self.stats.ignored[reason] += 1

    def delete(self, deletion: Deletion) -> MentionDeletion:
        """Publish that a post is gone. Not deduplicated against `seen`: a deletion always goes out."""
        source = deletion.source or self.source
        record = MentionDeletion(
            id=mention_id(source.value, deletion.native_id), source=source, reason=deletion.reason,
            deleted_at=deletion.deleted_at or datetime.now(timezone.utc),
            author_key=customer_key(source.value, deletion.author_handle) if deletion.author_handle else None,
            ingested_at=datetime.now(timezone.utc))
        self.sink.publish_deletion(record)
        self.stats.deleted += 1
        self._count("deleted")
        return record

    def emit(self, post: Post, *, original: bytes | None = None) -> RawMention | None:
        """Dedupe, match a brand, validate, publish. Returns the mention if it was published.

        An edit (`edited_at`) is published again under the same id, even when the original was seen."""
        if post.native_id in self.seen and post.edited_at is None:
            self._count("duplicate")
            self.stats.duplicates += 1
            return None
        found = match_post(post.text, (post.author.handle, *post.author_ids), post.places, self.rules,
                           brand_hint=post.brand_hint,
                           include_own_posts=self.config.include_own_posts)
        if found is None or found == OWN_POST:
            self.seen.add(post.native_id)
            self._count("unmatched" if found is None else "own_post")
            if found is None:
                self.stats.unmatched += 1
            else:
                self.stats.own_posts += 1
            return None
        source = post.source or self.source
        text, truncated = truncate_text(post.text)
        try:
            mention = RawMention(
                id=mention_id(source.value, post.native_id), source=source, channel=post.channel or found.channel,
                url=post.url, author=post.author, text=text, truncated=truncated or None, lang_hint=post.lang,
                created_at=post.created_at, created_at_note=post.created_at_note, edited_at=post.edited_at,
                links=list(post.links) or None, link_titles=list(post.link_titles) or None,
                media_alt=list(post.media_alt) or None,
                in_reply_to=post.in_reply_to, brand=found.brand, matched_keyword=found.keyword, raw=post.raw,
                ingested_at=datetime.now(timezone.utc))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            too_long = any(e["type"] == "string_too_long" and e["loc"][:1] == ("text",) for e in errors)
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
            self.seen.add(post.native_id)
            self.reject(DeadLetterReason.oversized if too_long else DeadLetterReason.schema_violation, detail,
                        original if original is not None else _dump(post.raw or {"native_id": post.native_id}),
                        mention=mention_id(source.value, post.native_id))
            return None
        if len(mention.model_dump_json(exclude_none=True)) > MAX_RECORD_BYTES * 3 // 4:
            mention = mention.model_copy(update={"raw": {"omitted": "payload too large to keep"}})
        self.sink.publish(mention)
        self.seen.add(post.native_id)
        self.stats.published += 1
        self._count("edited" if post.edited_at else "published")
        if truncated:
            self._count("truncated")
        metrics.CONNECTOR_LAG.labels(self.name).set(
            max(0.0, (mention.ingested_at - mention.created_at).total_seconds()))  # type: ignore[operator]
        return mention

    def reject(self, reason: DeadLetterReason, detail: str, original: bytes, *, mention: str | None = None) -> None:
        """A clear log line and a dead letter with the reason; the connector goes on."""
        kept = original[:MAX_RECORD_BYTES]
        if len(kept) < len(original):
            detail += f" (original truncated from {len(original)} bytes)"
        letter = DeadLetter.build(stage=f"connector.{self.name}", reason=reason, detail=detail, original=kept,
                                  received_at=datetime.now(timezone.utc), mention_id=mention)
        log.warning("bad payload dead-lettered", extra={"connector": self.name, "reason": reason.value,
                                                         "detail": detail[:300], "bytes": len(original)})
        self.sink.dead_letter(letter)
        self.stats.dead_lettered += 1
        self._count("dead_lettered")

    def _count(self, outcome: str) -> None:
        metrics.CONNECTOR_EVENTS.labels(self.name, outcome).inc()

    # ------------------------------------------------------------ checkpoints
    def _commit_due(self) -> bool:
        return self._pending >= self.config.commit_every or (
            self._pending > 0 and time.monotonic() - self._last_commit >= self.config.commit_interval_seconds)

    async def commit(self) -> None:
        """Flush, then save the cursor as it was before the flush: every mention before that
        cursor is acknowledged by the broker, so resuming from it loses nothing."""
        async with self._commit_lock:
            snapshot = Checkpoint(cursor=copy.deepcopy(self.cursor), seen=self.seen.snapshot())
            pending = self._pending
            await asyncio.to_thread(self.sink.flush)
            await asyncio.to_thread(self.checkpoints.save, self.name, snapshot)
            self._pending = max(0, self._pending - pending)
            self._last_commit = time.monotonic()
            self.stats.commits += 1


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, default=str).encode()


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def parse_time(value: Any) -> datetime:
    """ISO 8601 (with Z), or epoch seconds, as an aware UTC datetime."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), timezone.utc)
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


TRUNCATION_MARK = " …"


def truncate_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """The one truncation policy of every connector: text over `limit` characters is cut at the last
    word boundary before it (a hard cut when one word fills it) and ends in " …"; True if it was cut."""
    if len(text) <= limit:
        return text, False
    room = limit - len(TRUNCATION_MARK)
    cut = text[:room]
    boundary = max(cut.rfind(" "), cut.rfind("\n"))
    if boundary > room // 2:
        cut = cut[:boundary]
    return cut.rstrip() + TRUNCATION_MARK, True
