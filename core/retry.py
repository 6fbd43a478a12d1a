"""Waiting well: jittered backoff, Retry-After and the platforms' rate-limit headers, and one
loop that keeps trying a dependency until it answers (`until_ready`)."""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

T = TypeVar("T")


@dataclass
class Backoff:
    """Exponential (or linear) delays, capped, with "equal jitter": half fixed, half random,
    so many clients that failed together do not retry together, yet none retries at once."""

    initial: float = 1.0
    maximum: float = 300.0
    mode: Literal["exponential", "linear"] = "exponential"
    factor: float = 2.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def peek(self) -> float:
        if self.mode == "linear":
            return min(self.maximum, self.initial * (self.attempt + 1))
        return min(self.maximum, self.initial * self.factor ** self.attempt)

    def next(self) -> float:
        base = self.peek()
        self.attempt += 1
        return base / 2 + self.rng.uniform(0, base / 2) if self.jitter else base

    def reset(self) -> None:
        self.attempt = 0


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    lower = {k.lower(): v for k, v in headers.items()}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """`Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` (RFC 9110)."""
    value = _header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def reset_seconds(value: str, now: datetime | None = None) -> float | None:
    """A reset header as seconds from now: epoch seconds (X), seconds left (Reddit) or ISO 8601 (Mastodon)."""
    now = now or datetime.now(timezone.utc)
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - now).total_seconds())
    if number > 1e9:  # an epoch timestamp, not a duration
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def quota_wait_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait before the next request when the quota is spent, else None.

    Reads `x-rate-limit-remaining/-reset` (X), `x-ratelimit-remaining/-reset` (Reddit,
    Mastodon, most others).
    """
    remaining = _header(headers, "x-rate-limit-remaining", "x-ratelimit-remaining")
    reset = _header(headers, "x-rate-limit-reset", "x-ratelimit-reset")
    if remaining is None or reset is None:
        return None
    try:
        left = float(remaining)
    except ValueError:
        return None
    if left >= 1:
        return None
    return reset_seconds(reset, now)


def rate_limit_delay(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """After a 429: Retry-After if given, else the quota reset, else None (use backoff)."""
    after = retry_after_seconds(headers, now)
    if after is not None:
        return after
    reset = _header(headers, "x-rate-limit-reset", "x-ratelimit-reset")
    return reset_seconds(reset, now) if reset is not None else None


async def until_ready(attempt: Callable[[], Awaitable[T]], *, what: str, log: logging.Logger,
                      initial: float = 0.5, maximum: float = 30.0,
                      on_failure: Callable[[BaseException], None] | None = None,
                      details: Callable[[], dict] | None = None) -> T:
    """Await `attempt()` until it returns, doubling the wait after each failure (no jitter: one
    process, one dependency). Any exception means "not ready yet": the broker or node may still be
    starting, and a stage that gives up would lose its input instead of waiting for it."""
    delay = Backoff(initial=initial, maximum=maximum, jitter=False)
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - see the docstring
            if on_failure is not None:
                on_failure(exc)
            wait = delay.next()
            log.warning(f"{what} not ready; retrying",
                        extra={**(details() if details else {}), "error": repr(exc)[:300], "retry_in_s": wait})
            await asyncio.sleep(wait)
