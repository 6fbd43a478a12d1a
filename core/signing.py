"""HMAC-SHA256, the way Luister signs and checks: webhooks in and out, and hashed ids in the audit index.

One scheme for Luister's own webhooks (the alert webhook it sends, the ingest webhook it receives):
`sha256=<hex HMAC(secret, "<timestamp>." + body)>`. Comparisons are constant-time and on bytes, so a
header with characters outside ASCII is simply a mismatch (`hmac.compare_digest` raises on such str).
"""
from __future__ import annotations

import hashlib
import hmac


def hmac_hex(key: str | bytes, data: str | bytes) -> str:
    """Hex HMAC-SHA256 of `data` under `key`."""
    return hmac.new(_bytes(key), _bytes(data), hashlib.sha256).hexdigest()


def digests_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison that never raises on odd input (None, non-ASCII)."""
    if given is None:
        return False
    return hmac.compare_digest(_bytes(expected), _bytes(given))


def sign_timestamped(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of Luister's webhooks."""
    return "sha256=" + hmac_hex(secret, timestamp.encode() + b"." + body)


def verify_timestamped(secret: str, timestamp: str, body: bytes, signature: str | None) -> bool:
    return digests_match(sign_timestamped(secret, timestamp, body), signature)


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
