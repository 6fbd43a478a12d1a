"""Reddit: an OAuth app (client credentials) polling listings for new posts and comments.

Listings: `r/<sub>` (new posts), `r/<sub>/comments` (new comments), `search:<query>`
(all of Reddit, newest first), `r/<sub>/search:<query>`. Each poll reads the newest page
and follows `after` to older pages until it reaches what it saw last time (the cursor per
listing is the newest `created_utc` handled), then publishes oldest first. Reddit's
`X-Ratelimit-Remaining/-Reset` headers hold the next request when the quota is spent.

A listing is one response with many children; each child is handled on its own (one event
per child), so a child that is ignored or dead-lettered never drops its siblings.

Per child: a post (t3) or comment (t1) is a mention; `edited` (a timestamp) makes it an edit
(published again under the same id, once per edit); a "[deleted]"/"[removed]" body or author
is a deletion of an item already seen, otherwise ignored (`deleted_placeholder`); other kinds
(subreddits, users, messages, "more") are ignored (`not_a_post`). Text is HTML-unescaped
(`&amp;`, `&#x200B;`, `&nbsp;`) and zero-width spaces dropped; a link post keeps its linked
URL in `links`; comments from before Reddit sent `permalink` get a URL built from
subreddit, link id and id. Text over the limit is truncated by the base class.
"""
from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.http import HTTPFailure
from connectors.runtime.live import BadPayload, Deletion, Event, Ignored, LiveConnector, Post, parse_time
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
                children = listing_children(doc)
                if children is None:
                    self.reject(DeadLetterReason.schema_violation, f"not a Listing from {path}", response.content)
                    break
                reached = False
                for child in children:
                    created = _created(child)
                    if newest is not None and created is not None and created < newest:
                        reached = True  # older than what the last poll handled
                        break
                    collected.append(child)
                after = doc["data"].get("after") if isinstance(doc, dict) else None
                if reached or not after or newest is None:
                    break  # the first poll starts from the newest page only
            for child in reversed(collected):
                yield Event(payload=child)
            stamps = [c for c in map(_created, collected) if c is not None]
            yield Event(cursor={"newest_utc": max([*stamps, *([newest] if newest else [])], default=newest)},
                        commit=True)
            await asyncio.sleep(self.config.poll_interval_seconds)

    def parse(self, doc: Any) -> Iterable[Post | Deletion]:
        """One listing child: a post (t3) or comment (t1); see the module doc for the variants."""
        kind, data = doc["kind"], doc["data"]
        if kind in NOT_POSTS:
            raise Ignored("not_a_post")
        if kind not in ("t1", "t3"):
            raise BadPayload(DeadLetterReason.schema_violation, f"not a post or comment: kind={kind!r}")
        name, author = data["name"], data["author"]
        if not isinstance(name, str) or not isinstance(author, str):
            raise TypeError("name and author must be strings")
        gone = gone_reason(kind, data)
        if gone is not None:
            if name not in self.seen:
                raise Ignored("deleted_placeholder")  # never published here: nothing to delete
            if f"{name}@gone" in self.seen:
                raise Ignored("already_deleted")  # the same listing page read again
            self.seen.add(f"{name}@gone")
            yield Deletion(native_id=name, reason=gone, author_handle=None if author in PLACEHOLDERS else author)
            return
        sub = data.get("subreddit") or ""
        links: tuple[str, ...] = ()
        if kind == "t3":
            title = clean_text(data["title"])
            text = "\n\n".join(t for t in (title, clean_text(data.get("selftext") or "")) if t)
            in_reply_to = None
            if not data.get("is_self", True):
                linked = data.get("url_overridden_by_dest") or data.get("url")
                if isinstance(linked, str) and linked:
                    links = (absolute(linked),)
        elif kind == "t1":
            text, in_reply_to = clean_text(data["body"]), data.get("parent_id")
        if not text:
            raise Ignored("empty_text")
        edited_at = None
        edited = data.get("edited")
        if isinstance(edited, (int, float)) and not isinstance(edited, bool) and edited > 0:
            edit_key = f"{name}@edited:{int(edited)}"
            if edit_key not in self.seen:  # each edit once, however often a page shows it
                edited_at = parse_time(float(edited))
                self.seen.add(edit_key)
        fullname = data.get("author_fullname")
        yield Post(
            native_id=name, text=text, author=Author(handle=author),
            created_at=parse_time(float(data["created_utc"])), url=item_url(kind, data),
            in_reply_to=in_reply_to, places=(f"r/{sub}",) if sub else (),
            author_ids=(fullname,) if isinstance(fullname, str) and fullname else (),
            edited_at=edited_at, links=links,
            raw={k: data.get(k) for k in ("name", "subreddit", "permalink", "created_utc", "edited", "score",
                                          "num_comments", "is_self", "url")})


PLACEHOLDERS = {"[deleted]", "[removed]"}
NOT_POSTS = {"t2", "t4", "t5", "t6", "more", "LabeledMulti", "modaction"}  # users, messages, subreddits, ...
# removed_by_category (newer payloads): who took the item down
_AUTHOR_GONE = {"deleted", "author"}
_ZERO_WIDTH = re.compile("[\u200b\u200c\ufeff\u2060]")


def gone_reason(kind: str, data: dict[str, Any]) -> str | None:
    """"author_deleted" or "removed" when the child is a placeholder of a deleted/removed item."""
    body = data.get("body") if kind == "t1" else data.get("selftext")
    category = data.get("removed_by_category")
    if body == "[removed]" or (category and category not in _AUTHOR_GONE):
        return "removed"
    if body == "[deleted]" or category in _AUTHOR_GONE or data.get("author") in PLACEHOLDERS:
        return "author_deleted"
    return None


def clean_text(text: str) -> str:
    """Reddit's Markdown source: entities decoded (`&amp;`, `&#x200B;`, `&nbsp;`), zero-width spaces dropped."""
    text = html.unescape(html.unescape(text)) if "&amp;#" in text else html.unescape(text)
    text = _ZERO_WIDTH.sub("", text).replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def absolute(url: str) -> str:
    return f"https://www.reddit.com{url}" if url.startswith("/") else url


def item_url(kind: str, data: dict[str, Any]) -> str | None:
    """The permalink (without `?ref=...`), or, for old comments without one, a URL built from its parts."""
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink:
        parts = urlsplit(permalink)
        return absolute(parts.path) if not parts.netloc else permalink
    sub, item_id = data.get("subreddit"), data.get("id") or str(data["name"]).partition("_")[2]
    if kind == "t1" and sub and str(data.get("link_id") or "").startswith("t3_"):
        return f"https://www.reddit.com/r/{quote(sub)}/comments/{data['link_id'][3:]}/_/{item_id}/"
    if kind == "t3" and sub:
        return f"https://www.reddit.com/r/{quote(sub)}/comments/{item_id}/"
    url = data.get("url")
    return absolute(url) if isinstance(url, str) and url else None


def listing_children(doc: Any) -> list[Any] | None:
    """The children of a Listing response (None if it is not one). A `/comments/<id>` response is
    a list of two Listings (the post, then its comments): their children, in that order."""
    if isinstance(doc, list):
        parts = [listing_children(d) for d in doc]
        return None if not parts or any(p is None for p in parts) else [c for p in parts for c in p]  # type: ignore[union-attr]
    data = doc.get("data") if isinstance(doc, dict) and doc.get("kind") == "Listing" else None
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        return None
    return data["children"]


def _created(child: Any) -> float | None:
    value = child.get("data", {}).get("created_utc") if isinstance(child, dict) and isinstance(
        child.get("data"), dict) else None
    return float(value) if isinstance(value, (int, float)) else None
