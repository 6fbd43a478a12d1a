"""HTTP outcomes a connector reacts to differently: rate limited, failed (transient or not),
or a network problem; and a gate that waits out a spent quota before the next request."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx
import websockets.exceptions

from core.retry import quota_wait_seconds, rate_limit_delay


class RateLimited(Exception):
    """The platform said "slow down" (429, or X's legacy 420): wait `delay` seconds, or back off."""

    def __init__(self, delay: float | None, detail: str = ""):
        super().__init__(f"rate limited (retry after {delay if delay is not None else '?'}s) {detail}".strip())
        self.delay = delay


class HTTPFailure(Exception):
    """A non-2xx answer other than 429. `transient` (5xx, 408) or not (a config or auth problem)."""

    def __init__(self, status: int, detail: str = ""):
        super().__init__(f"HTTP {status}: {detail[:300]}")
        self.status = status
        self.transient = status >= 500 or status == 408


class StreamStalled(Exception):
    """No data and no heartbeat for longer than the platform promises: reconnect."""


# errors below HTTP: reconnect (the connection was fine a moment ago) or back off linearly
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError, OSError, asyncio.TimeoutError, StreamStalled,
    websockets.exceptions.ConnectionClosed, websockets.exceptions.InvalidHandshake,
    websockets.exceptions.InvalidURI,
)


def raise_for_status(status: int, headers: Mapping[str, str], body: bytes = b"") -> None:
    if 200 <= status < 300 or status == 304:
        return
    detail = body[:300].decode("utf-8", errors="replace")
    if status in (429, 420):
        raise RateLimited(rate_limit_delay(headers), detail)
    raise HTTPFailure(status, detail)


class RateGate:
    """Remembers when a quota reported "0 remaining" and until when to hold the next request."""

    def __init__(self) -> None:
        self.not_before = 0.0

    def update(self, headers: Mapping[str, str]) -> None:
        wait = quota_wait_seconds(headers)
        if wait:
            self.not_before = max(self.not_before, time.monotonic() + wait)

    def hold_for(self, seconds: float) -> None:
        self.not_before = max(self.not_before, time.monotonic() + seconds)

    def wait_time(self) -> float:
        return max(0.0, self.not_before - time.monotonic())
