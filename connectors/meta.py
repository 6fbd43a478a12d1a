"""Facebook Page and Instagram webhooks (Meta Graph API), one endpoint for both.

GET answers Meta's verification challenge (`hub.mode=subscribe`, `hub.verify_token`,
`hub.challenge`). POST deliveries must carry `X-Hub-Signature-256: sha256=<HMAC-SHA256 of
the body with the app secret>`; anything else is refused with 403. Each change of a delivery is
handled on its own. Page `feed` (posts/comments: `add` -> mention, `edited` -> an edit under the same
id, `remove` -> deletion, `hide` -> deletion "hidden"; author from `from` or `sender_id`/`sender_name`),
Page `mention` (with or without `sender_id`), Page `ratings` with review text (own channel),
Instagram `comments`/`live_comments` (current and pre-2021 `{id, text}` shape) and `mentions` (ids only:
the text is fetched from the Graph API when an access token is configured). Messenger `messaging`
entries, changes without `value`, reactions/likes, ratings without text and unknown fields are counted
as ignored. A delivery is answered 200 after its mentions are acknowledged by the broker; an unreadable
change is dead-lettered and still answered 200, since Meta would only send it again.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.http import RateLimited
from connectors.runtime.jsonbody import parse_json
from connectors.runtime.live import BadPayload, Deletion, Event, Ignored, Post, parse_time
from connectors.runtime.server import BodyTooLarge, WebhookConnector, read_limited
from core import metrics
from core.signing import digests_match, hmac_hex
from schemas import DeadLetterReason
from schemas.mention import Author, Channel, Source

log = logging.getLogger(__name__)

FEED_ITEMS = {"status", "post", "comment", "photo", "video", "share"}


class MetaConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_META_")
    kind = "meta"

    host: str = "127.0.0.1"
    port: int = Field(8701, ge=0, le=65535)
    path: str = "/meta/webhook"
    app_secret: SecretStr = Field(description="signs deliveries: env LUISTER_META_APP_SECRET")
    verify_token: SecretStr = Field(description="your token for the challenge: env LUISTER_META_VERIFY_TOKEN")
    access_token: SecretStr | None = Field(None, description="to fetch Instagram @mention text from the Graph API")
    graph_url: str = "https://graph.facebook.com/v21.0"
    graph_max_wait_seconds: float = Field(10.0, ge=0, description="longest Retry-After waited within a delivery")
    max_body_bytes: int = Field(1024 * 1024, ge=1024)


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    return digests_match(hmac_hex(secret, body), header.removeprefix("sha256=").strip().lower())


class MetaWebhookConnector(WebhookConnector):
    kind = "meta"
    source = Source.facebook
    Config = MetaConfig
    summary = "Facebook Page + Instagram Graph webhooks: verification challenge, X-Hub-Signature-256, " \
              "feed/comment/mention events"
    config: MetaConfig

    def routes(self) -> list[Route]:
        return [Route(self.config.path, self.verify, methods=["GET"]),
                Route(self.config.path, self.receive, methods=["POST"])]

    async def verify(self, request: Request) -> Response:
        q = request.query_params
        token = self.config.verify_token.get_secret_value()
        if q.get("hub.mode") == "subscribe" and digests_match(token, q.get("hub.verify_token", "")):
            log.info("webhook verified", extra={"connector": self.name})
            return PlainTextResponse(q.get("hub.challenge", ""))
        log.warning("verification refused", extra={"connector": self.name, "mode": q.get("hub.mode")})
        return PlainTextResponse("verification failed", status_code=403)

    async def receive(self, request: Request) -> Response:
        try:
            body = await read_limited(request, self.config.max_body_bytes)
        except BodyTooLarge as exc:
            return PlainTextResponse(f"payload too large: {exc}", status_code=413)
        if not signature_ok(self.config.app_secret.get_secret_value().encode(), body,
                            request.headers.get("x-hub-signature-256")):
            log.warning("delivery with a bad signature refused", extra={"connector": self.name,
                                                                      "client": request.client.host if request.client else None})
            metrics.CONNECTOR_ERRORS.labels(self.name, "bad_signature").inc()
            return PlainTextResponse("invalid signature", status_code=403)
        try:
            doc = parse_json(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
                raise BadPayload(DeadLetterReason.schema_violation, "no entry list in the delivery")
        except ValueError as exc:
            self.reject(DeadLetterReason.malformed_json, f"not JSON: {exc}", body)
        except BadPayload as exc:
            self.reject(exc.reason, exc.detail, body)
        else:
            await self.handle_delivery(doc)
        await self.deliver()
        return PlainTextResponse("EVENT_RECEIVED")

    async def handle_delivery(self, doc: dict[str, Any]) -> None:
        """Each change of each entry on its own: one bad or ignorable change never drops the others."""
        obj = doc.get("object")
        for entry in doc["entry"]:
            if isinstance(entry, dict) and isinstance(entry.get("messaging"), list) and not entry.get("changes"):
                for _ in entry["messaging"]:  # Messenger / Instagram Direct: conversations, not mentions
                    self.ignore("messenger")
                continue
            changes = entry.get("changes") if isinstance(entry, dict) else None
            for change in changes if isinstance(changes, list) else [entry]:
                original = json.dumps({"object": obj, "entry": [{**entry, "changes": [change]}]}
                                      if isinstance(entry, dict) else entry).encode()
                try:
                    item = await self.change_post(obj, entry, change)
                except Ignored as exc:
                    self.ignore(exc.reason)
                    continue
                except BadPayload as exc:
                    self.reject(exc.reason, exc.detail, original)
                    continue
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.reject(DeadLetterReason.schema_violation, f"unexpected {obj} change: "
                                                                   f"{type(exc).__name__}: {exc}", original)
                    continue
                if item is not None:
                    self.handle(Event(payload=item))

    async def change_post(self, obj: Any, entry: dict[str, Any], change: dict[str, Any]) -> Post | Deletion | None:
        """One change to a Post (new or edited), a Deletion, or None / Ignored (not a mention)."""
        if not isinstance(change, dict) or not isinstance(change.get("field"), str):
            raise BadPayload(DeadLetterReason.schema_violation, "a change without a field")
        field, value = change["field"], change.get("value")
        if not isinstance(value, dict) or not value:
            raise Ignored("no_value")  # Meta sends some fields (and test pings) without a value
        if obj == "page" and field == "feed":
            return await self._feed(entry, value)
        if obj == "page" and field == "mention":
            return await self._page_mention(entry, value)
        if obj == "page" and field == "ratings":
            return self._rating(entry, value)
        if obj == "instagram" and field in ("comments", "live_comments"):
            return await self._instagram_comment(entry, field, value)
        if obj == "instagram" and field == "mentions":
            return await self._instagram_mention(entry, value)
        raise Ignored("unsupported_field")  # fields we do not listen to (messages, story_insights...)

    # ------------------------------------------------------------ Facebook Page
    def _verb(self, entry: dict[str, Any], value: dict[str, Any], native: str, author: str | None,
              source: Source = Source.facebook) -> Deletion | datetime | None:
        """`remove`/`hide` become a Deletion; `edited` gives the edit time; `add` gives None."""
        verb = value.get("verb", "add")
        if verb in ("remove", "delete"):
            return Deletion(native, deleted_at=_when(value.get("created_time") or entry.get("time")),
                            reason="author_deleted", author_handle=author, source=source)
        if verb == "hide":
            return Deletion(native, deleted_at=_when(entry.get("time") or value.get("created_time")),
                            reason="hidden", author_handle=author, source=source)
        if verb in ("edited", "edit", "update"):
            return _when(entry.get("time") or value.get("created_time")) or datetime.now(UTC)
        if verb == "add":
            return None
        raise Ignored("unsupported_verb")  # unhide, block, mute...

    async def _feed(self, entry: dict[str, Any], value: dict[str, Any]) -> Post | Deletion:
        item = value.get("item")
        if item not in FEED_ITEMS:
            raise Ignored("reaction" if item in ("like", "reaction") else "unsupported_item")
        native = str(value.get("comment_id") or value["post_id"])
        author = _author(value)
        outcome = self._verb(entry, value, native, author.handle if author else None)
        if isinstance(outcome, Deletion):
            return outcome
        if not value.get("message"):
            raise Ignored("no_text")  # a photo without caption, a share without comment
        if author is None:
            author = await self._graph_author(native) or _post_owner(value, item)
        if author is None:
            raise Ignored("no_author")
        post = value.get("post") if isinstance(value.get("post"), dict) else {}
        created, note = _created(value, entry)
        return Post(
            native_id=native, text=value["message"], author=author, created_at=created, created_at_note=note,
            url=value.get("permalink_url") or post.get("permalink_url") or _fb_url(value.get("post_id") or native),
            in_reply_to=value.get("parent_id") if item == "comment" else None, edited_at=outcome,
            links=tuple(str(u) for u in [value.get("link")] if u),
            places=_places(entry), source=Source.facebook,
            raw={"object": "page", "field": "feed", **value})

    async def _page_mention(self, entry: dict[str, Any], value: dict[str, Any]) -> Post | Deletion:
        native = str(value.get("comment_id") or value["post_id"])
        author = _author(value)
        outcome = self._verb(entry, value, native, author.handle if author else None)
        if isinstance(outcome, Deletion):
            return outcome
        text = value.get("message")
        if not text or author is None:
            found = await self._graph_object(native, "message,from") if not text or self.config.access_token \
                else {}
            text = text or found.get("message")
            if not text:
                raise BadPayload(DeadLetterReason.processing_error, f"no message for {native} in the Graph API")
            if author is None and isinstance(found.get("from"), dict) and found["from"].get("id"):
                author = Author(handle=str(found["from"]["id"]), display_name=found["from"].get("name"))
        author = author or _post_owner(value, value.get("item"))
        if author is None:
            raise Ignored("no_author")  # a comment mention naming nobody, and no Graph API token to ask
        created, note = _created(value, entry)
        return Post(
            native_id=native, text=text, author=author, created_at=created, created_at_note=note,
            url=value.get("permalink_url") or _fb_url(value.get("post_id") or native), edited_at=outcome,
            in_reply_to=value.get("post_id") if value.get("comment_id") else None,
            places=_places(entry), source=Source.facebook, raw={"object": "page", "field": "mention", **value})

    def _rating(self, entry: dict[str, Any], value: dict[str, Any]) -> Post | Deletion:
        """A Page review (recommendation). Only one with text is a mention; it is on the brand's own page."""
        native = str(value.get("open_graph_story_id") or value.get("comment_id")
                     or f"rating_{entry.get('id')}_{value.get('reviewer_id')}")
        reviewer = str(value["reviewer_id"]) if value.get("reviewer_id") else None
        outcome = self._verb(entry, value, native, reviewer)
        if isinstance(outcome, Deletion):
            return outcome
        if value.get("item", "rating") != "rating" or not (value.get("review_text") or "").strip():
            raise Ignored("rating_without_text")  # stars only, or a reply/comment on a review
        if reviewer is None:
            raise Ignored("no_author")
        created, note = _created(value, entry)
        return Post(
            native_id=native, text=value["review_text"],
            author=Author(handle=reviewer, display_name=value.get("reviewer_name")),
            created_at=created, created_at_note=note, edited_at=outcome,
            url=_fb_url(value["open_graph_story_id"]) if value.get("open_graph_story_id") else None,
            places=_places(entry), channel=Channel.own, source=Source.facebook,
            raw={"object": "page", "field": "ratings", **value})

    # ------------------------------------------------------------ Instagram
    async def _instagram_comment(self, entry: dict[str, Any], field: str, value: dict[str, Any]) -> Post:
        """Since Oct 2021 a comment carries `from` and `media`; before, only `id` and `text`."""
        sender = value.get("from") if isinstance(value.get("from"), dict) else {}
        username, ids = sender.get("username"), tuple(str(sender["id"]) for _ in [0] if sender.get("id"))
        text, when = value.get("text"), None
        if not username or not text:  # the pre-2021 shape: ask the Graph API who wrote it, when possible
            found = await self._graph_object(str(value["id"]), "text,username,timestamp") \
                if self.config.access_token else {}
            username, text, when = username or found.get("username"), text or found.get("text"), \
                found.get("timestamp")
        if not text:
            raise Ignored("no_text")
        if not username:
            raise Ignored("no_author")
        media = value.get("media") if isinstance(value.get("media"), dict) else {}
        return Post(
            native_id=str(value["id"]), text=text, author=Author(handle=username), author_ids=ids,
            created_at=parse_time(when or entry["time"]), in_reply_to=value.get("parent_id"),
            places=(str(entry["id"]),), source=Source.instagram,
            raw={"object": "instagram", "field": field, "id": value["id"], "media": media or None})

    async def _instagram_mention(self, entry: dict[str, Any], value: dict[str, Any]) -> Post:
        """A mention arrives as ids only; the Graph API has the text (mentioned_comment/_media)."""
        ig_user, media_id, comment_id = str(entry["id"]), str(value["media_id"]), value.get("comment_id")
        if comment_id:
            fields = f"mentioned_comment.comment_id({comment_id}){{id,text,username,timestamp}}"
        else:
            fields = f"mentioned_media.media_id({media_id}){{id,caption,username,timestamp,permalink}}"
        found = (await self._graph(f"/{ig_user}", {"fields": fields})).get(
            "mentioned_comment" if comment_id else "mentioned_media")
        if not isinstance(found, dict):
            raise BadPayload(DeadLetterReason.processing_error, "the Graph API returned no mentioned item")
        return Post(
            native_id=str(comment_id or media_id), text=found.get("text") or found.get("caption") or "",
            author=Author(handle=found.get("username") or "unknown"),
            created_at=parse_time(found.get("timestamp") or entry["time"]), url=found.get("permalink"),
            places=(ig_user,), source=Source.instagram,
            raw={"object": "instagram", "field": "mentions", **value})

    async def _graph_object(self, object_id: str, fields: str) -> dict[str, Any]:
        doc = await self._graph(f"/{object_id}", {"fields": fields})
        return doc if isinstance(doc, dict) else {}

    async def _graph_author(self, object_id: str) -> Author | None:
        """Who wrote a feed item that names nobody; None without a token or when the lookup fails."""
        if self.config.access_token is None:
            return None
        try:
            found = (await self._graph_object(object_id, "from")).get("from")
        except BadPayload:
            return None
        if isinstance(found, dict) and found.get("id"):
            return Author(handle=str(found["id"]), display_name=found.get("name"))
        return None

    async def _graph(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if self.config.access_token is None:
            raise BadPayload(DeadLetterReason.processing_error,
                             "a mention without text; set LUISTER_META_ACCESS_TOKEN to fetch it from the Graph API")
        headers = {"Authorization": f"Bearer {self.config.access_token.get_secret_value()}"}
        for attempt in range(3):
            try:
                return (await self.request("GET", self.config.graph_url.rstrip("/") + path, params=params,
                                           headers=headers)).json()
            except RateLimited as exc:  # wait a short Retry-After within the delivery; Meta waits for our 200
                if attempt == 2 or exc.delay is None or exc.delay > self.config.graph_max_wait_seconds:
                    raise BadPayload(DeadLetterReason.processing_error, f"Graph API lookup: {exc}") from exc
                self.stats.rate_limit_waits.append(exc.delay)
                await asyncio.sleep(exc.delay)
            except Exception as exc:  # noqa: BLE001 - the delivery goes on; this one change is dead-lettered
                raise BadPayload(DeadLetterReason.processing_error, f"Graph API lookup failed: {exc}") from exc
        raise AssertionError("unreachable")


def _author(value: dict[str, Any]) -> Author | None:
    """`from {id, name}` (current feed) or `sender_id`/`sender_name` (mentions, older feed deliveries)."""
    sender = value.get("from")
    if isinstance(sender, dict) and sender.get("id"):
        return Author(handle=str(sender["id"]), display_name=sender.get("name"))
    if value.get("sender_id"):
        return Author(handle=str(value["sender_id"]), display_name=value.get("sender_name"))
    return None


def _post_owner(value: dict[str, Any], item: Any) -> Author | None:
    """A post id is `<owner id>_<post id>`: for a post (not a comment on it) the owner is the author."""
    post_id = str(value.get("post_id") or "")
    if item in ("post", "status", "photo", "video", "share") and "_" in post_id:
        return Author(handle=post_id.split("_", 1)[0])
    return None


def _when(value: Any) -> datetime | None:
    try:
        return parse_time(value) if value not in (None, "") else None
    except (ValueError, OverflowError, OSError):
        return None


def _created(value: dict[str, Any], entry: dict[str, Any]) -> tuple[datetime, str | None]:
    """The item's created_time, else the delivery's time, else now (noted)."""
    when = _when(value.get("created_time"))
    if when is not None:
        return when, None
    when = _when(entry.get("time"))
    if when is not None:
        return when, "the delivery's time: the change carried no created_time"
    return datetime.now(UTC), "time received: the delivery carried no time"


def _places(entry: dict[str, Any]) -> tuple[str, ...]:
    return (str(entry["id"]),) if entry.get("id") else ()


def _fb_url(object_id: str) -> str:
    return f"https://www.facebook.com/{object_id}"
