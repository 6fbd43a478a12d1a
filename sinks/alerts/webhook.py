"""A generic JSON webhook, signed with HMAC-SHA256 so the receiver can trust it.

Body: {"type": "luister.alert", "delivery_id": "<alert id>#<version>", "alert": <Alert JSON>}.
Headers: `X-Luister-Timestamp` (unix seconds, fresh for every attempt), `X-Luister-Delivery`
(the delivery id: the same for every retry, so a receiver can drop duplicates), `X-Luister-Event`
(alert.open / alert.update / alert.resolved) and
`X-Luister-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`.
A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses timestamps
older than a few minutes (replays).
"""
from __future__ import annotations

import json
from datetime import datetime

from core.signing import sign_timestamped as sign
from core.signing import verify_timestamped as verify
from schemas import Alert
from sinks.alerts.base import Destination, HttpRequest

SIGNATURE_HEADER = "X-Luister-Signature"
TIMESTAMP_HEADER = "X-Luister-Timestamp"


__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookDestination", "sign", "verify"]


class WebhookDestination(Destination):
    name = "webhook"

    def __init__(self, url: str, secret: str, *, min_severity: int = 0):
        super().__init__(url, min_severity=min_severity)
        if not secret:
            raise ValueError("the webhook needs a secret to sign with (alerts.webhook_secret)")
        self.secret = secret

    def build(self, alert: Alert, *, now: datetime) -> HttpRequest:
        body = json.dumps({"type": "luister.alert", "delivery_id": alert.version_id,
                           "alert": json.loads(alert.model_dump_json())}, ensure_ascii=False).encode()
        timestamp = str(int(now.timestamp()))
        return HttpRequest(self.url, body, {
            "Content-Type": "application/json", TIMESTAMP_HEADER: timestamp, "X-Luister-Delivery": alert.version_id,
            "X-Luister-Event": f"alert.{alert.status.value}", SIGNATURE_HEADER: sign(self.secret, timestamp, body)})
