"""Keep credentials out of what Luister prints: logs, errors, /readyz and `luister doctor`."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str) -> str:
    """`https://user:secret@host:9200/x` -> `https://user:***@host:9200/x`; other URLs unchanged.

    Several comma-separated URLs (a cluster) are each redacted."""
    if "," in url:
        return ",".join(redact_url(part) for part in url.split(","))
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can read: show nothing of it rather than a secret
        return MASK
    if not password:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{parts.username}:{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
