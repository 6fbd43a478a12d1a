"""PagerDuty Events API v2 (POST /v2/enqueue): trigger, acknowledge and resolve by `dedup_key`.

open and update -> trigger, acknowledged (`luister alerts ack`) -> acknowledge, resolved -> resolve.

The alert id is the dedup_key (hashed when longer than 255 characters), so every update of an episode
lands on the same PagerDuty alert and the resolve closes it. PagerDuty answers 202; 400 is a bad
event (permanent), 429 asks to slow down.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from schemas import Alert
from sinks.alerts.base import KIND_TITLES, SEVERITY_NAMES, Destination, HttpRequest, links_of

ACTIONS = {"open": "trigger", "update": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
MAX_DEDUP_KEY = 255


def dedup_key(alert_id: str) -> str:
    if len(alert_id) <= MAX_DEDUP_KEY:
        return alert_id
    return alert_id[:200] + ":" + hashlib.sha256(alert_id.encode()).hexdigest()[:32]


def event(alert: Alert, routing_key: str, *, client_url: str = "") -> dict:
    action = ACTIONS[alert.status.value]
    body: dict = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(alert.id)}
    if action != "trigger":
        return body
    signal = alert.evidence.get("signal") or {}
    details = {"status": alert.status.value, "version": alert.sequence, "kind": alert.kind.value,
               "brand": alert.brand, "topic": alert.topic, "opened_at": alert.opened_at.isoformat(),
               "mention_ids": alert.mention_ids[:20]}
    if signal:
        details["signal"] = signal
    for key in ("topics", "severe_mentions", "sites", "examples"):
        if key in alert.evidence:
            details[key] = alert.evidence[key]
    body["payload"] = {
        "summary": alert.summary[:1024],
        "source": f"luister/{alert.brand}",
        "severity": SEVERITY_NAMES.get(alert.severity, "error"),
        "timestamp": alert.updated_at.isoformat(),
        "component": alert.brand,
        "group": alert.topic or alert.kind.value,
        "class": KIND_TITLES.get(alert.kind, alert.kind.value),
        "custom_details": details,
    }
    body["client"] = "Luister"
    if client_url:
        body["client_url"] = client_url
    links = [{"href": u, "text": f"mention {i + 1}"} for i, u in enumerate(links_of(alert))]
    if links:
        body["links"] = links
    return body


class PagerDutyDestination(Destination):
    name = "pagerduty"

    def __init__(self, url: str, routing_key: str, *, min_severity: int = 2, client_url: str = ""):
        super().__init__(url, min_severity=min_severity)
        self.routing_key = routing_key
        self.client_url = client_url

    def build(self, alert: Alert, *, now: datetime) -> HttpRequest:  # noqa: ARG002
        return HttpRequest(self.url, json.dumps(event(alert, self.routing_key, client_url=self.client_url),
                                                ensure_ascii=False).encode(), {"Content-Type": "application/json"})
