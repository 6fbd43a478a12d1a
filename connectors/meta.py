"""Facebook Page and Instagram webhooks (Meta Graph API), one endpoint for both.

GET answers Meta's verification challenge (`hub.mode=subscribe`, `hub.verify_token`,
`hub.challenge`). POST deliveries must carry `X-Hub-Signature-256: sha256=<HMAC-SHA256 of
the body with the app secret>`; anything else is refused with 403. Handled fields: Page
`feed` (new posts and comments), Page `mention`, Instagram `comments`/`live_comments`, and
Instagram `mentions` (ids only: the text is fetched from the Graph API when an access token
is configured). A delivery is answered 200 after its mentions are acknowledged by the
broker; an unreadable one is dead-lettered and still answered 200, since Meta would only
send it again.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.http import RateLimited
from connectors.runtime.jsonbody import parse_json
from connectors.runtime.live import BadPayload, Event, Post, parse_time
from connectors.runtime.server import BodyTooLarge, WebhookConnector, read_limited
from core import metrics
from core.signing import digests_match, hmac_hex
from schemas import DeadLetterReason
from schemas.mention import Author, Source

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
        obj = doc.get("object")
        for entry in doc["entry"]:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            for change in changes if isinstance(changes, list) else [entry]:
                original = json.dumps({"object": obj, "entry": [{**entry, "changes": [change]}]}
                                      if isinstance(entry, dict) else entry).encode()
                try:
                    post = await self.change_post(obj, entry, change)
                except BadPayload as exc:
                    self.reject(exc.reason, exc.detail, original)
                    continue
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.reject(DeadLetterReason.schema_violation, f"unexpected {obj} change: "
                                                                   f"{type(exc).__name__}: {exc}", original)
                    continue
                if post is not None:
                    self.handle(Event(payload=post))

    async def change_post(self, obj: Any, entry: dict[str, Any], change: dict[str, Any]) -> Post | None:
        field, value = change["field"], change["value"]
        if obj == "page" and field == "feed":
            if value.get("item") not in FEED_ITEMS or value.get("verb") != "add" or not value.get("message"):
                return None  # likes, reactions, edits, removals: not a new mention
            native = value.get("comment_id") or value["post_id"]
            sender = value["from"]
            return Post(
                native_id=str(native), text=value["message"],
                author=Author(handle=str(sender["id"]), display_name=sender.get("name")),
                created_at=parse_time(value.get("created_time") or entry["time"]),
                url=value.get("permalink_url") or f"https://www.facebook.com/{value['post_id']}",
                in_reply_to=value.get("parent_id") if value.get("item") == "comment" else None,
                places=(str(entry["id"]),), source=Source.facebook, raw={"object": obj, "field": field, **value})
        if obj == "page" and field == "mention":
            if value.get("verb") != "add":
                return None
            native = value.get("comment_id") or value["post_id"]
            text = value.get("message") or await self._graph_text(str(native))
            return Post(
                native_id=str(native), text=text,
                author=Author(handle=str(value["sender_id"]), display_name=value.get("sender_name")),
                created_at=parse_time(value.get("created_time") or entry["time"]),
                url=f"https://www.facebook.com/{value['post_id']}", places=(str(entry["id"]),),
                source=Source.facebook, raw={"object": obj, "field": field, **value})
        if obj == "instagram" and field in ("comments", "live_comments"):
            sender = value["from"]
            return Post(
                native_id=str(value["id"]), text=value["text"],
                author=Author(handle=sender["username"]), author_ids=(str(sender["id"]),),
                created_at=parse_time(entry["time"]), in_reply_to=value.get("parent_id"),
                places=(str(entry["id"]),), source=Source.instagram,
                raw={"object": obj, "field": field, "id": value["id"], "media": value.get("media")})
        if obj == "instagram" and field == "mentions":
            return await self._instagram_mention(entry, value)
        return None  # fields we do not listen to (messages, story_insights...)

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

    async def _graph_text(self, object_id: str) -> str:
        doc = await self._graph(f"/{object_id}", {"fields": "message"})
        if not doc.get("message"):
            raise BadPayload(DeadLetterReason.processing_error, f"no message for {object_id} in the Graph API")
        return doc["message"]

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
