"""Generic webhook ingest: any tool (a WhatsApp Business or helpdesk integration, a form,
a script) POSTs mentions as JSON.

Each sender has an API key id and a secret, and signs every request:

    X-Luister-Key:        <key id>
    X-Luister-Timestamp:  <unix seconds>
    X-Luister-Signature:  sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

An unknown key, a bad signature or a timestamp outside the tolerance is refused with 401;
a body over `max_body_bytes` with 413. The body is one mention or `{"mentions": [...]}`.
Valid mentions are published and acknowledged by the broker before the 202 answer; invalid
ones are dead-lettered and listed in the answer with the reason.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError
from pydantic_settings import SettingsConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.runtime.config import ConnectorConfig
from connectors.runtime.jsonbody import parse_json
from connectors.runtime.live import Event, Post
from connectors.runtime.server import BodyTooLarge, WebhookConnector, read_limited
from core import metrics
from core.signing import verify_timestamped
from schemas import DeadLetterReason
from schemas.mention import Author, Channel, Source

log = logging.getLogger(__name__)


class SenderConfig(BaseModel):
    source: Source = Field(Source.webhook, description="what the sender's mentions are (whatsapp, email, forum...)")
    channel: Channel | None = Field(None, description="force own/third_party (e.g. own for WhatsApp Business)")
    brand: str | None = Field(None, description="every mention from this sender is about this brand")


class WebhookConfig(ConnectorConfig):
    model_config = SettingsConfigDict(env_prefix="LUISTER_WEBHOOK_")
    kind = "webhook"

    host: str = "127.0.0.1"
    port: int = Field(8702, ge=0, le=65535)
    path: str = "/ingest"
    senders: dict[str, SenderConfig] = Field(min_length=1, description="key id -> {source, channel, brand}")
    api_keys: dict[str, SecretStr] = Field(description='key id -> HMAC secret, as JSON in env LUISTER_WEBHOOK_API_KEYS')
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    max_batch: int = Field(500, ge=1)
    timestamp_tolerance_seconds: float = Field(300.0, gt=0, description="refuse replays of old requests")


class IncomingAuthor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    display_name: str | None = None
    followers: int | None = Field(None, ge=0)
    is_verified: bool = False


class IncomingMention(BaseModel):
    """One mention as a sender posts it (lenient on types, strict on names)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
    text: Annotated[str, StringConstraints(min_length=1)]
    author: IncomingAuthor | Annotated[str, StringConstraints(min_length=1, max_length=200)]
    created_at: AwareDatetime
    url: str | None = None
    lang: str | None = None
    in_reply_to: str | None = None
    brand: str | None = None
    channel: Channel | None = None
    source: Source | None = None
    raw: dict[str, Any] | None = None


class WebhookIngestConnector(WebhookConnector):
    kind = "webhook"
    source = Source.webhook
    Config = WebhookConfig
    summary = "Generic JSON webhook (WhatsApp Business, helpdesk, ...): HMAC-signed, per-sender API keys, size limit"
    config: WebhookConfig

    def routes(self) -> list[Route]:
        return [Route(self.config.path, self.receive, methods=["POST"])]

    def authenticate(self, headers: Any, body: bytes) -> str | None:
        """The sender's key id when the request is signed by it and fresh; None otherwise."""
        key_id = headers.get("x-luister-key", "")
        secret = self.config.api_keys.get(key_id)
        stamp = headers.get("x-luister-timestamp", "")
        if secret is None or key_id not in self.config.senders or not stamp.isdigit():
            return None
        if abs(time.time() - int(stamp)) > self.config.timestamp_tolerance_seconds:
            return None
        signature = headers.get("x-luister-signature", "")
        return key_id if verify_timestamped(secret.get_secret_value(), stamp, body, signature) else None

    async def receive(self, request: Request) -> Response:
        try:
            body = await read_limited(request, self.config.max_body_bytes)
        except BodyTooLarge as exc:
            return JSONResponse({"error": f"payload too large: {exc}"}, status_code=413)
        key_id = self.authenticate(request.headers, body)
        if key_id is None:
            log.warning("request refused: unknown key, bad signature or stale timestamp",
                        extra={"connector": self.name, "key": request.headers.get("x-luister-key", "")[:64]})
            metrics.CONNECTOR_ERRORS.labels(self.name, "bad_signature").inc()
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            doc = parse_json(body)
        except ValueError as exc:
            self.reject(DeadLetterReason.malformed_json, f"from {key_id}: not JSON: {exc}", body)
            await self.deliver()
            return JSONResponse({"error": f"not JSON: {exc}"}, status_code=400)
        items = doc.get("mentions") if isinstance(doc, dict) and "mentions" in doc else [doc]
        if not isinstance(items, list) or len(items) > self.config.max_batch:
            self.reject(DeadLetterReason.schema_violation,
                        f"from {key_id}: expected a mention or {{'mentions': [...]}} of at most "
                        f"{self.config.max_batch}", body)
            await self.deliver()
            return JSONResponse({"error": "expected a mention object or {\"mentions\": [...]}"}, status_code=400)
        accepted, rejected, duplicates = [], [], 0
        for index, item in enumerate(items):
            original = json.dumps(item, ensure_ascii=False, default=str).encode()
            try:
                post = self.item_post(key_id, IncomingMention.model_validate(item))
            except ValidationError as exc:
                detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"
                                   for e in exc.errors(include_url=False, include_input=False)[:5])
                self.reject(DeadLetterReason.schema_violation, f"from {key_id}: {detail}", original)
                rejected.append({"index": index, "reason": detail})
                continue
            before = (self.stats.published, self.stats.dead_lettered, self.stats.duplicates)
            self.handle(Event(payload=post))
            if self.stats.published > before[0]:
                accepted.append(post.native_id)
            elif self.stats.dead_lettered > before[1]:
                rejected.append({"index": index, "reason": "invalid mention (see the dead-letter topic)"})
            elif self.stats.duplicates > before[2]:
                duplicates += 1
            else:
                rejected.append({"index": index, "reason": "no configured brand matched"})
        await self.deliver()
        return JSONResponse({"accepted": accepted, "duplicates": duplicates, "rejected": rejected}, status_code=202)

    def item_post(self, key_id: str, item: IncomingMention) -> Post:
        sender = self.config.senders[key_id]
        author = IncomingAuthor(handle=item.author) if isinstance(item.author, str) else item.author
        created: datetime = item.created_at
        return Post(
            native_id=f"{key_id}.{item.id}", text=item.text,
            author=Author(handle=author.handle, display_name=author.display_name, followers=author.followers,
                          is_verified=author.is_verified),
            created_at=created, url=item.url, lang=item.lang, in_reply_to=item.in_reply_to,
            brand_hint=sender.brand or item.brand, source=sender.source if sender.source != Source.webhook
            else (item.source or Source.webhook), channel=sender.channel or item.channel,
            raw={"sender": key_id, **(item.raw or {})})
