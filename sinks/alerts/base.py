"""The contract of an HTTP alert destination, and delivery with retries. No Kafka here.

A destination turns an `Alert` into one HTTP request (`build`) and says whether it wants the alert at
all (`wants`: a minimum severity). `deliver` sends it until the destination answers 2xx, backing off
exponentially with jitter on connection errors, timeouts, 408/425/5xx, and waiting exactly as long as
`Retry-After` says on a 429 or 503. Other 4xx are permanent: retrying cannot help, so the caller
dead-letters the alert instead of blocking the stream behind it.
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import aiohttp
from prometheus_client import Counter

from schemas import Alert, AlertKind, AlertStatus

log = logging.getLogger(__name__)

DELIVERIES = Counter("luister_alert_deliveries_total", "Alert versions handled per destination and outcome",
                     ["destination", "outcome"])
RETRIES = Counter("luister_alert_delivery_retries_total", "Delivery attempts that will be retried", ["destination"])

TRANSIENT_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "Luister-alerts/1"


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


class Destination(ABC):
    """One place alerts go. Subclasses define `name` and `build`."""

    name: str = "destination"

    def __init__(self, url: str, *, min_severity: int = 0):
        self.url = url
        self.min_severity = min_severity

    def wants(self, alert: Alert) -> bool:
        # an alert's severity never goes down within an episode, so the resolve reaches every destination
        # that saw an earlier version
        return alert.severity >= self.min_severity

    @abstractmethod
    def build(self, alert: Alert, *, now: datetime) -> HttpRequest:
        """The request for this alert; called again for every attempt (signatures carry a timestamp)."""


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    permanent: bool = False
    status: int | None = None
    detail: str = ""
    retry_after: float | None = None


@dataclass
class Backoff:
    initial: float = 1.0
    maximum: float = 300.0
    retry_after_max: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        capped = min(self.maximum, self.initial * 2 ** min(attempt, 30))
        return capped * random.uniform(0.5, 1.0)  # jitter: destinations are not hit in lockstep


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def judge(status: int, headers: dict[str, str] | None = None, body: str = "") -> Outcome:
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if 200 <= status < 300:
        return Outcome(True, status=status)
    retry_after = parse_retry_after(headers.get("retry-after")) if status in (429, 503) else None
    detail = f"HTTP {status}: {body[:300]}"
    if status in TRANSIENT_STATUSES or status >= 500:
        return Outcome(False, status=status, detail=detail, retry_after=retry_after)
    return Outcome(False, permanent=True, status=status, detail=detail)


async def send_once(session: aiohttp.ClientSession, request: HttpRequest, timeout: float) -> Outcome:
    try:
        async with session.request(request.method, request.url, data=request.body,
                                   headers={"User-Agent": USER_AGENT, **request.headers},
                                   timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False) as resp:
            body = await resp.text(errors="replace")
            return judge(resp.status, dict(resp.headers), body)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return Outcome(False, detail=f"{type(exc).__name__}: {exc}")


@dataclass
class DeliveryResult:
    delivered: bool
    attempts: int
    outcome: Outcome


async def deliver(session: aiohttp.ClientSession, destination: Destination, alert: Alert, backoff: Backoff, *,
                  timeout: float = 10.0, max_attempts: int | None = None,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> DeliveryResult:
    """Send until 2xx, a permanent refusal, or `max_attempts` (None: as long as it takes)."""
    attempt = 0
    while True:
        attempt += 1
        outcome = await send_once(session, destination.build(alert, now=datetime.now(timezone.utc)), timeout)
        if outcome.delivered or outcome.permanent or (max_attempts is not None and attempt >= max_attempts):
            DELIVERIES.labels(destination=destination.name,
                              outcome="delivered" if outcome.delivered else "rejected" if outcome.permanent
                              else "gave_up").inc()
            return DeliveryResult(outcome.delivered, attempt, outcome)
        delay = backoff.delay(attempt - 1, outcome.retry_after)
        RETRIES.labels(destination=destination.name).inc()
        log.warning("alert delivery failed; retrying", extra={
            "destination": destination.name, "alert_id": alert.version_id, "attempt": attempt,
            "retry_in_s": round(delay, 2), "cause": outcome.detail[:200]})
        await sleep(delay)


SEVERITY_NAMES = {0: "info", 1: "warning", 2: "error", 3: "critical"}
KIND_TITLES = {AlertKind.negative_surge: "Negative surge", AlertKind.severe_mention: "Severe mention",
               AlertKind.repeated_negativity_spreading: "Repeated negativity spreading"}


def links_of(alert: Alert, limit: int = 5) -> list[str]:
    links = [u for u in alert.evidence.get("links", []) if isinstance(u, str) and u.startswith("http")]
    return links[:limit]


def sample_alert(now: datetime | None = None, status: AlertStatus = AlertStatus.open) -> Alert:
    """A clearly marked test alert, for `luister alerts test`."""
    now = now or datetime.now(timezone.utc)
    return Alert(
        id=f"test:luister:{now:%Y%m%dT%H%M%SZ}", kind=AlertKind.negative_surge, status=status, brand="Luister-test",
        topic="test", severity=3,
        summary="TEST ALERT from Luister: if you can read this, delivery to this destination works",
        opened_at=now - timedelta(minutes=1), updated_at=now,
        resolved_at=now if status is AlertStatus.resolved else None, mention_ids=["twitter:0"],
        evidence={"test": True, "signal": {"negative": 42, "expected_negative": 1.5, "ratio": 28.0,
                                           "window_seconds": 60},
                  "links": ["https://example.org/luister-test"]},
        sequence=0 if status is AlertStatus.open else 1,
    )
