"""X (Twitter) API v2: the filtered stream, its rules, and recent search as backfill.

On start the connector makes the stream's rules match the config (adds the missing,
deletes the others when `manage_rules`). The stream is newline-delimited JSON with a
`\\r\\n` keep-alive every 20 seconds; silence longer than `heartbeat_timeout_seconds` counts
as a disconnect. X documents how to reconnect: at once after an established connection
drops; then back off linearly for network errors (+250 ms, up to 16 s), exponentially for
HTTP errors (5 s doubling, up to 320 s) and for 429 (1 minute doubling) unless the rate-limit
headers say when. The stream has no resume point, so the cursor is the newest post id:
after a gap, recent search (`since_id`) fills it before the stream reopens.
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
from connectors.runtime.http import StreamStalled
from connectors.runtime.live import BackoffPolicy, BadPayload, Event, LiveConnector, Post, parse_time
from core.retry import Backoff
from schemas import DeadLetterReason
from schemas.mention import Author, Source

log = logging.getLogger(__name__)

TWEET_FIELDS = "created_at,lang,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,entities"
USER_FIELDS = "username,name,public_metrics,verified"


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
    async def stream(self, key: str) -> AsyncIterator[Event]:
        if not self.rules_synced:
            await self.sync_rules()
            self.rules_synced = True
        if self.config.backfill and self.cursor.get(key):
            async for event in self.backfill(key):
                yield event
        timeout = httpx.Timeout(self.config.request_timeout_seconds, read=self.config.heartbeat_timeout_seconds)
        params = {"tweet.fields": TWEET_FIELDS, "expansions": "author_id", "user.fields": USER_FIELDS}
        async with self.open_stream("GET", f"{self.api}/2/tweets/search/stream", params=params, headers=self._auth,
                                    timeout=timeout) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    yield Event()  # keep-alive
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    yield Event(payload=line)
                    continue
                if isinstance(doc, dict) and "data" not in doc and doc.get("errors"):
                    error = doc["errors"][0] if isinstance(doc["errors"], list) else {}
                    if isinstance(error, dict) and (error.get("disconnect_type") or "disconnect" in str(
                            error.get("title", ""))):
                        raise StreamStalled(f"X disconnected the stream: {error.get('title')}: {error.get('detail')}")
                cursor = _newer(self.cursor.get(key), (doc.get("data") or {}).get("id")
                                if isinstance(doc, dict) and isinstance(doc.get("data"), dict) else None)
                yield Event(payload=doc, original=line.encode(), cursor=cursor)

    async def backfill(self, key: str) -> AsyncIterator[Event]:
        """Posts since the cursor via recent search, oldest first, in the stream's shape."""
        query = " OR ".join(f"({r.value})" for r in self.config.rules)
        params: dict[str, Any] = {"query": query, "since_id": self.cursor[key], "max_results": 100,
                                  "tweet.fields": TWEET_FIELDS, "expansions": "author_id", "user.fields": USER_FIELDS}
        found: list[dict[str, Any]] = []
        for _ in range(self.config.backfill_max_pages):
            doc = (await self.request("GET", f"{self.api}/2/tweets/search/recent", params=params,
                                      headers=self._auth)).json()
            users = (doc.get("includes") or {}).get("users") or []
            found += [{"data": t, "includes": {"users": users}} for t in doc.get("data") or []]
            token = (doc.get("meta") or {}).get("next_token")
            if not token:
                break
            params["next_token"] = token
        found.sort(key=lambda d: (len(str(d["data"].get("id", ""))), str(d["data"].get("id", ""))))
        cursor = self.cursor[key]
        for doc in found:
            cursor = _newer(cursor, doc["data"].get("id"))
            yield Event(payload=doc, cursor=cursor)
        log.info("backfilled from recent search", extra={"connector": self.name, "posts": len(found)})
        yield Event(cursor=cursor, commit=True)

    def parse(self, doc: Any) -> Iterable[Post]:
        if "data" not in doc:
            raise BadPayload(DeadLetterReason.schema_violation, f"no data in stream message: {str(doc)[:200]}")
        tweet = doc["data"]
        users = {u["id"]: u for u in (doc.get("includes") or {}).get("users") or []}
        user = users.get(tweet["author_id"])
        handle = user["username"] if user else tweet["author_id"]
        tags = [r.get("tag") for r in doc.get("matching_rules") or [] if r.get("tag") in self.brand_tags]
        mentions = [m["username"] for m in (tweet.get("entities") or {}).get("mentions") or [] if m.get("username")]
        replied = [r["id"] for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"]
        followers = ((user or {}).get("public_metrics") or {}).get("followers_count")
        yield Post(
            native_id=str(tweet["id"]), text=tweet["text"],
            author=Author(handle=handle, display_name=(user or {}).get("name"),
                          followers=followers if isinstance(followers, int) else None,
                          is_verified=bool((user or {}).get("verified"))),
            created_at=parse_time(tweet["created_at"]), url=f"https://x.com/{handle}/status/{tweet['id']}",
            lang=tweet.get("lang"), in_reply_to=replied[0] if replied else None,
            places=tuple([*mentions, *([str(tweet["in_reply_to_user_id"])] if tweet.get("in_reply_to_user_id") else [])]),
            author_ids=(str(tweet["author_id"]),), brand_hint=tags[0] if tags else None,
            raw={"id": tweet["id"], "conversation_id": tweet.get("conversation_id"),
                 "matching_rules": doc.get("matching_rules")})
