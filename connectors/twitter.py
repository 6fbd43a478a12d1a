"""X (Twitter) API v2: the filtered stream, its rules, and recent search as backfill.

On start the connector makes the stream's rules match the config (adds the missing,
deletes the others when `manage_rules`). The stream is newline-delimited JSON with a
`\\r\\n` keep-alive every 20 seconds; silence longer than `heartbeat_timeout_seconds` counts
as a disconnect. X documents how to reconnect: at once after an established connection
drops; then back off linearly for network errors (+250 ms, up to 16 s), exponentially for
HTTP errors (5 s doubling, up to 320 s) and for 429 (1 minute doubling) unless the rate-limit
headers say when. The stream has no resume point, so the cursor is the newest post id:
after a gap, recent search (`since_id`) fills it before the stream reopens: one query per
rule, so each result carries its rule's tag (the brand) although search has no `matching_rules`.

Error objects inside the stream (a line with `errors` and no `data`, or a bare problem object)
end the stream with `PlatformError`: an operational disconnect reconnects at once, too many
connections and rate limits back off from 1 minute (doubling), a spent usage cap waits the
longest rate-limit step, anything else (401, ...) the HTTP schedule. A line with both `data`
and `errors` (a referenced post was deleted) is a post like any other.

Long posts carry their full text in `note_tweet`; an edit (`edit_history_tweet_ids` with more
than one id) is published under the original (first) id with `edited_at`, so the mention keeps
its id. X v2 streams carry no deletions (they come from the compliance firehose, not handled).
"""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.live import BackoffPolicy, BadPayload, Event, LiveConnector, PlatformError, Post, parse_time
from core.retry import Backoff
from schemas import DeadLetterReason
from schemas.mention import Author, Source

log = logging.getLogger(__name__)

TWEET_FIELDS = ("created_at,lang,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities,"
                "note_tweet,edit_history_tweet_ids,attachments")
USER_FIELDS = "username,name,public_metrics,verified"
MEDIA_FIELDS = "type,alt_text"
EXPANSIONS = "author_id,attachments.media_keys"
RATE_LIMIT_ERRORS = ("toomanyconnections", "connectionexception", "rate-limit", "ratelimit", "too many requests",
                     "streaming-connection")
USAGE_CAP_ERRORS = ("usagecapexceeded", "usage-capped", "usage cap")


class StreamRule(BaseModel):
    value: str = Field(min_length=1, description="an X filter rule, e.g. '(pakjepost OR @PakjePost) -is:retweet'")
    tag: str | None = Field(None, description="the brand this rule listens for")


class TwitterConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_TWITTER_")
    kind = "twitter"

    bearer_token: SecretStr = Field(description="app-only bearer token: env LUISTER_TWITTER_BEARER_TOKEN")
    api_url: str = "https://api.x.com"
    rules: list[StreamRule] = Field(min_length=1, description="[[rules]] value, tag (= brand)")
    manage_rules: bool = Field(True, description="delete stream rules that are not in this config")
    backfill: bool = Field(True, description="recent search since the last post after a gap")
    backfill_max_pages: int = Field(5, ge=1)
    heartbeat_timeout_seconds: float = Field(21.0, gt=0, description="X sends a keep-alive every 20 s")
    network_backoff_step_seconds: float = Field(0.25, gt=0)
    network_backoff_max_seconds: float = Field(16.0, gt=0)
    http_backoff_initial_seconds: float = Field(5.0, gt=0)
    http_backoff_max_seconds: float = Field(320.0, gt=0)
    rate_limit_backoff_initial_seconds: float = Field(60.0, gt=0)
    rate_limit_backoff_max_seconds: float = Field(960.0, gt=0)


def _newer(a: str | None, b: str | None) -> str | None:
    if not (b and str(b).isdigit()):
        return a
    b = str(b)
    return b if a is None or (len(b), b) > (len(a), a) else a


class TwitterConnector(LiveConnector):
    kind = "twitter"
    source = Source.twitter
    Config = TwitterConfig
    summary = "X API v2 filtered stream with rules management, documented reconnects, recent-search backfill"
    config: TwitterConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.api = self.config.api_url.rstrip("/")
        self.rules_synced = False
        self.brand_tags = {r.tag for r in self.config.rules if r.tag}
        c = self.config  # in-stream rate-limit errors: X's 429 schedule (1 minute, doubling)
        self.rate_backoff = Backoff(c.rate_limit_backoff_initial_seconds, c.rate_limit_backoff_max_seconds)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.bearer_token.get_secret_value()}"}

    def backoff_policy(self) -> BackoffPolicy:
        c = self.config
        return BackoffPolicy(
            network=Backoff(c.network_backoff_step_seconds, c.network_backoff_max_seconds, mode="linear", jitter=False),
            http=Backoff(c.http_backoff_initial_seconds, c.http_backoff_max_seconds),
            rate_limit=Backoff(c.rate_limit_backoff_initial_seconds, c.rate_limit_backoff_max_seconds))

    # ------------------------------------------------------------ rules
    async def sync_rules(self) -> dict[str, int]:
        url = f"{self.api}/2/tweets/search/stream/rules"
        current = (await self.request("GET", url, headers=self._auth)).json().get("data") or []
        wanted = {(r.value, r.tag or None) for r in self.config.rules}
        have = {(r["value"], r.get("tag") or None): r["id"] for r in current}
        stale = [rule_id for key, rule_id in have.items() if key not in wanted] if self.config.manage_rules else []
        missing = [{"value": v, **({"tag": t} if t else {})} for v, t in sorted(wanted - set(have), key=str)]
        if stale:
            await self.request("POST", url, json={"delete": {"ids": stale}}, headers=self._auth)
        if missing:
            answer = (await self.request("POST", url, json={"add": missing}, headers=self._auth)).json()
            for error in answer.get("errors") or []:
                log.error("stream rule refused", extra={"connector": self.name, "rule": error.get("value"),
                                                        "error": error.get("title") or error.get("detail")})
        log.info("stream rules in place", extra={"connector": self.name, "added": len(missing),
                                                 "deleted": len(stale), "kept": len(have) - len(stale)})
        return {"added": len(missing), "deleted": len(stale)}

    # ------------------------------------------------------------ stream
    def _params(self) -> dict[str, Any]:
        return {"tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS, "user.fields": USER_FIELDS,
                "media.fields": MEDIA_FIELDS}

    async def stream(self, key: str) -> AsyncIterator[Event]:
        if not self.rules_synced:
            await self.sync_rules()
            self.rules_synced = True
        if self.config.backfill and self.cursor.get(key):
            async for event in self.backfill(key):
                yield event
        timeout = httpx.Timeout(self.config.request_timeout_seconds, read=self.config.heartbeat_timeout_seconds)
        async with self.open_stream("GET", f"{self.api}/2/tweets/search/stream", params=self._params(),
                                    headers=self._auth, timeout=timeout) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    yield Event()  # keep-alive
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    yield Event(payload=line)
                    continue
                if isinstance(doc, dict) and "data" not in doc:
                    error = self.stream_error(doc)
                    if error is not None:
                        raise error
                data = doc.get("data") if isinstance(doc, dict) else None
                if isinstance(data, dict):
                    self.rate_backoff.reset()
                    if doc.get("errors"):
                        log.info("post with partial errors", extra={"connector": self.name, "id": data.get("id"),
                                                                    "errors": str(doc["errors"])[:300]})
                cursor = _newer(self.cursor.get(key), data.get("id") if isinstance(data, dict) else None)
                yield Event(payload=doc, original=line.encode(), cursor=cursor)

    def stream_error(self, doc: dict[str, Any]) -> PlatformError | None:
        """An error object in the stream (no `data`): the PlatformError to end the stream with, or None
        when the line is no error object (it is then parsed, and dead-lettered, like any payload)."""
        errors = doc.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            error = errors[0]
        elif isinstance(doc.get("title"), str) and ("type" in doc or "detail" in doc or "status" in doc):
            error = doc  # a bare problem object (RFC 7807), as X answers a refused connection
        else:
            return None
        title = str(error.get("title") or error.get("message") or error.get("code") or "error")
        detail = str(error.get("detail") or error.get("message") or "")
        words = " ".join(str(error.get(k, "")) for k in ("title", "type", "detail", "message", "connection_issue",
                                                         "disconnect_type")).lower()
        if str(error.get("code")) == "88":
            words += " rate-limit"
        if error.get("disconnect_type") or "operational-disconnect" in words:
            retry_after: float | None = 0.0  # an established connection dropped: reconnect at once
        elif any(w in words for w in USAGE_CAP_ERRORS):
            retry_after = self.config.rate_limit_backoff_max_seconds  # the cap does not lift in minutes
        elif any(w in words for w in RATE_LIMIT_ERRORS):
            retry_after = self.rate_backoff.next()  # X: 1 minute, doubling
        else:
            retry_after = None  # 401 and the rest: the HTTP schedule (5 s doubling, up to 320 s)
        return PlatformError(title, detail, retry_after=retry_after)

    async def backfill(self, key: str) -> AsyncIterator[Event]:
        """Posts since the cursor via recent search, oldest first, in the stream's shape. One query per
        rule: search results carry no `matching_rules`, so each keeps the rule (and its tag) that found it."""
        found: dict[str, dict[str, Any]] = {}
        for rule in self.config.rules:
            params: dict[str, Any] = {"query": rule.value, "since_id": self.cursor[key], "max_results": 100,
                                      **self._params()}
            for _ in range(self.config.backfill_max_pages):
                doc = (await self.request("GET", f"{self.api}/2/tweets/search/recent", params=params,
                                          headers=self._auth)).json()
                for item in self.search_results(doc, rule):
                    tweet_id = str(item["data"].get("id", ""))
                    if tweet_id in found:
                        found[tweet_id]["backfill_rules"] += item["backfill_rules"]
                    else:
                        found[tweet_id] = item
                token = (doc.get("meta") or {}).get("next_token")
                if not token:
                    break
                params["next_token"] = token
        ordered = sorted(found.values(), key=lambda d: (len(str(d["data"].get("id", ""))), str(d["data"].get("id", ""))))
        cursor = self.cursor[key]
        for doc in ordered:
            cursor = _newer(cursor, doc["data"].get("id"))
            yield Event(payload=doc, cursor=cursor)
        log.info("backfilled from recent search", extra={"connector": self.name, "posts": len(ordered)})
        yield Event(cursor=cursor, commit=True)

    @staticmethod
    def search_results(doc: dict[str, Any], rule: StreamRule) -> list[dict[str, Any]]:
        """A recent-search page as stream-shaped payloads, each with the rule that found it."""
        includes = doc.get("includes") or {}
        shared = {k: includes[k] for k in ("users", "media", "tweets") if includes.get(k)}
        return [{"data": t, "includes": shared, "backfill_rules": [{"value": rule.value, "tag": rule.tag}]}
                for t in doc.get("data") or [] if isinstance(t, dict)]

    def parse(self, doc: Any) -> Iterable[Post]:
        if not isinstance(doc, dict) or "data" not in doc:
            raise BadPayload(DeadLetterReason.schema_violation, f"no data in stream message: {str(doc)[:200]}")
        tweet = doc["data"]
        if not tweet.get("author_id"):
            raise BadPayload(DeadLetterReason.schema_violation,
                             f"post {tweet.get('id')} has no author_id (the connector always asks for it)")
        includes = doc.get("includes") or {}
        users = {u["id"]: u for u in includes.get("users") or [] if isinstance(u, dict) and "id" in u}
        media = {m["media_key"]: m for m in includes.get("media") or [] if isinstance(m, dict) and "media_key" in m}
        user = users.get(tweet["author_id"])
        handle = user["username"] if user else str(tweet["author_id"])
        rules = [*(doc.get("matching_rules") or []), *(doc.get("backfill_rules") or [])]
        tags = [r.get("tag") for r in rules if isinstance(r, dict) and r.get("tag") in self.brand_tags]
        note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else {}
        text = note.get("text") or tweet["text"]  # a long post: `text` is cut at 280 characters
        entities = note.get("entities") if note.get("text") and note.get("entities") else tweet.get("entities") or {}
        mentions = [m["username"] for m in entities.get("mentions") or [] if m.get("username")]
        urls = [u for u in entities.get("urls") or [] if isinstance(u, dict) and not u.get("media_key")]
        links = tuple(dict.fromkeys(str(u.get("expanded_url") or u.get("unwound_url") or u.get("url"))
                                    for u in urls if u.get("expanded_url") or u.get("unwound_url") or u.get("url")))
        titles = tuple(dict.fromkeys(str(u["title"]) for u in urls if u.get("title")))
        keys = (tweet.get("attachments") or {}).get("media_keys") or []
        alts = tuple(str(media[k]["alt_text"]) for k in keys if k in media and media[k].get("alt_text"))
        replied = [r["id"] for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"]
        followers = ((user or {}).get("public_metrics") or {}).get("followers_count")
        history = [str(i) for i in tweet.get("edit_history_tweet_ids") or []]
        created = parse_time(tweet["created_at"])
        edited = len(history) > 1  # ids oldest first; the last is this version
        native_id = history[0] if edited else str(tweet["id"])  # an edit keeps the original's id
        yield Post(
            native_id=native_id, text=text,
            author=Author(handle=handle, display_name=(user or {}).get("name"),
                          followers=followers if isinstance(followers, int) else None,
                          is_verified=bool((user or {}).get("verified"))),
            created_at=created, edited_at=created if edited else None,
            url=f"https://x.com/{handle}/status/{tweet['id']}",
            lang=tweet.get("lang"), in_reply_to=replied[0] if replied else None,
            places=(*mentions, *([str(tweet["in_reply_to_user_id"])] if tweet.get("in_reply_to_user_id") else [])),
            author_ids=(str(tweet["author_id"]),), brand_hint=tags[0] if tags else None,
            links=links, link_titles=titles, media_alt=alts,
            raw={"id": tweet["id"], "conversation_id": tweet.get("conversation_id"),
                 "matching_rules": doc.get("matching_rules"), "backfill_rules": doc.get("backfill_rules"),
                 "edit_history_tweet_ids": history or None, "long_post": bool(note.get("text"))})
