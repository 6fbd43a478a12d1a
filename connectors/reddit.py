"""Reddit: an OAuth app (client credentials) polling listings for new posts and comments.

Listings: `r/<sub>` (new posts), `r/<sub>/comments` (new comments), `search:<query>`
(all of Reddit, newest first), `r/<sub>/search:<query>`. Each poll reads the newest page
and follows `after` to older pages until it reaches what it saw last time (the cursor per
listing is the newest `created_utc` handled), then publishes oldest first. Reddit's
`X-Ratelimit-Remaining/-Reset` headers hold the next request when the quota is spent.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.http import HTTPFailure
from connectors.runtime.live import BadPayload, Event, LiveConnector, Post, parse_time
from schemas import DeadLetterReason
from schemas.mention import Author, Source


class RedditConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_REDDIT_")
    kind = "reddit"

    client_id: str = Field(description="the app's client id (not secret)")
    client_secret: SecretStr = Field(description="the app's secret: env LUISTER_REDDIT_CLIENT_SECRET")
    listings: list[str] = Field(min_length=1, description='"r/<sub>", "r/<sub>/comments", "search:<q>", '
                                                          '"r/<sub>/search:<q>"')
    auth_url: str = "https://www.reddit.com/api/v1/access_token"
    api_url: str = "https://oauth.reddit.com"
    poll_interval_seconds: float = Field(60.0, gt=0)
    page_size: int = Field(100, ge=1, le=100)
    max_pages: int = Field(5, ge=1, description="pages followed by `after` in one poll")
    user_agent: str = "python:luister-connector:0.1 (webcare listening)"


def listing_path(key: str) -> tuple[str, dict[str, str]]:
    if key.startswith("search:"):
        return "/search", {"q": key.split(":", 1)[1], "sort": "new", "type": "link"}
    if not key.startswith("r/"):
        raise ValueError(f"unknown Reddit listing {key!r}")
    sub, _, rest = key[2:].partition("/")
    if rest == "":
        return f"/r/{quote(sub)}/new", {}
    if rest == "comments":
        return f"/r/{quote(sub)}/comments", {}
    if rest.startswith("search:"):
        return f"/r/{quote(sub)}/search", {"q": rest.split(":", 1)[1], "sort": "new", "restrict_sr": "1"}
    raise ValueError(f"unknown Reddit listing {key!r}")


class RedditConnector(LiveConnector):
    kind = "reddit"
    source = Source.reddit
    Config = RedditConfig
    summary = "Reddit OAuth app: new posts/comments and search listings per subreddit, `after` paging"
    config: RedditConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    def stream_keys(self) -> list[str]:
        return list(self.config.listings)

    async def token(self) -> str:
        async with self._token_lock:
            if self._token is None or time.monotonic() > self._token_expires - 60:
                response = await self.request(
                    "POST", self.config.auth_url, data={"grant_type": "client_credentials"},
                    auth=(self.config.client_id, self.config.client_secret.get_secret_value()))
                doc = response.json()
                self._token = doc["access_token"]
                self._token_expires = time.monotonic() + float(doc.get("expires_in", 3600))
            return self._token

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        for attempt in (1, 2):
            headers = {"Authorization": f"bearer {await self.token()}"}
            try:
                response = await self.request("GET", self.config.api_url + path,
                                              params={**params, "raw_json": 1}, headers=headers)
            except HTTPFailure as exc:
                if exc.status == 401 and attempt == 1:
                    self._token = None  # expired or revoked: fetch a new one once
                    continue
                raise
            return response
        raise AssertionError("unreachable")

    async def stream(self, key: str) -> AsyncIterator[Event]:
        path, params = listing_path(key)
        while True:
            newest = (self.cursor.get(key) or {}).get("newest_utc")
            collected: list[Any] = []
            after = None
            for _ in range(self.config.max_pages):
                response = await self.get(path, {**params, "limit": self.config.page_size,
                                                 **({"after": after} if after else {})})
                doc = response.json()
                data = doc.get("data") if isinstance(doc, dict) and doc.get("kind") == "Listing" else None
                if not isinstance(data, dict) or not isinstance(data.get("children"), list):
                    self.reject(DeadLetterReason.schema_violation, f"not a Listing from {path}", response.content)
                    break
                reached = False
                for child in data["children"]:
                    created = _created(child)
                    if newest is not None and created is not None and created < newest:
                        reached = True  # older than what the last poll handled
                        break
                    collected.append(child)
                after = data.get("after")
                if reached or not after or newest is None:
                    break  # the first poll starts from the newest page only
            for child in reversed(collected):
                yield Event(payload=child)
            stamps = [c for c in map(_created, collected) if c is not None]
            yield Event(cursor={"newest_utc": max([*stamps, *([newest] if newest else [])], default=newest)},
                        commit=True)
            await asyncio.sleep(self.config.poll_interval_seconds)

    def parse(self, doc: Any) -> Iterable[Post]:
        kind, data = doc["kind"], doc["data"]
        if kind == "t3":
            text = "\n\n".join(t for t in (data["title"], data.get("selftext") or "") if t)
            in_reply_to = None
        elif kind == "t1":
            text, in_reply_to = data["body"], data.get("parent_id")
        else:
            raise BadPayload(DeadLetterReason.schema_violation, f"not a post or comment: kind={kind!r}")
        sub = data.get("subreddit") or ""
        yield Post(
            native_id=data["name"], text=text, author=Author(handle=data["author"]),
            created_at=parse_time(float(data["created_utc"])),
            url=f"https://www.reddit.com{data['permalink']}" if data.get("permalink") else data.get("url"),
            in_reply_to=in_reply_to, places=(f"r/{sub}",) if sub else (),
            raw={k: data.get(k) for k in ("name", "subreddit", "permalink", "created_utc", "score", "num_comments")})


def _created(child: Any) -> float | None:
    value = child.get("data", {}).get("created_utc") if isinstance(child, dict) and isinstance(
        child.get("data"), dict) else None
    return float(value) if isinstance(value, (int, float)) else None
