"""Local HTTP receivers that check each payload against its destination's documented format.

* Slack incoming webhook + Block Kit: `text` and/or `blocks` (<= 50); header = plain_text <= 150 chars;
  section text <= 3000, <= 10 fields of <= 2000; context <= 10 elements; mrkdwn control characters
  escaped. Answers 200 "ok".
* PagerDuty Events API v2 (/v2/enqueue): routing_key (32 characters), event_action trigger|acknowledge|
  resolve, dedup_key <= 255 (required unless trigger); a trigger has payload {summary <= 1024, source,
  severity critical|error|warning|info, optional timestamp (ISO 8601), component, group, class,
  custom_details}; links [{href, text}]. Answers 202 {"status": "success", ...}.
* Alertmanager API v2 (POST /api/v2/alerts): a JSON list of {labels (non-empty, names
  [a-zA-Z_][a-zA-Z0-9_]*, string values), annotations (strings), startsAt/endsAt (RFC 3339),
  generatorURL (URI)}. Answers 200.
* Generic webhook: HMAC-SHA256 signature over "<timestamp>.<body>", fresh timestamp, body
  {type, delivery_id, alert} where alert is a valid `Alert`.

Each receiver follows a script of answers (e.g. 500 first, then 200) and records what it saw.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from schemas import Alert
from sinks.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text"}


def _text_object(obj, limit: int, kinds=("plain_text", "mrkdwn")) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
        return [f"bad text object {obj!r:.80}"]
    problems = []
    if not obj["text"] or len(obj["text"]) > limit:
        problems.append(f"text length {len(obj['text'])} not in 1..{limit}")
    if obj["type"] == "mrkdwn" and re.search(r"<(?![@#!]|https?://|mailto:)", obj["text"]):
        problems.append("unescaped '<' in mrkdwn")
    return problems


def check_slack(body, request=None, raw: bytes = b"") -> list[str]:  # noqa: ARG001
    if not isinstance(body, dict):
        return ["body is not an object"]
    problems = []
    if not isinstance(body.get("text"), str) and "blocks" not in body:
        problems.append("neither text nor blocks")
    blocks = body.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return problems + ["blocks must be a list of at most 50"]
    for block in blocks:
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            problems.append(f"unknown block type {kind}")
        elif kind == "header":
            problems += _text_object(block.get("text"), 150, ("plain_text",))
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append("section without text or fields")
            if "text" in block:
                problems += _text_object(block["text"], 3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append("more than 10 fields")
            for f in fields:
                problems += _text_object(f, 2000)
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append("context needs 1..10 elements")
            for e in elements:
                problems += _text_object(e, 3000)
    return problems


def check_pagerduty(body, request=None, raw: bytes = b"") -> list[str]:  # noqa: ARG001
    if not isinstance(body, dict):
        return ["body is not an object"]
    problems = []
    allowed = {"routing_key", "event_action", "dedup_key", "payload", "client", "client_url", "links", "images"}
    problems += [f"unknown field {k}" for k in body if k not in allowed]
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        problems.append("routing_key must be the 32-character integration key")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append(f"bad event_action {action}")
    key = body.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 255):
        problems.append("dedup_key must be 1..255 characters")
    if action in ("acknowledge", "resolve") and not key:
        problems.append(f"{action} needs a dedup_key")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return problems + ["trigger without payload"]
        if not isinstance(payload.get("summary"), str) or not 1 <= len(payload["summary"]) <= 1024:
            problems.append("payload.summary must be 1..1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("payload.source is required")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append(f"bad payload.severity {payload.get('severity')}")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(payload["timestamp"])
            except (TypeError, ValueError):
                problems.append("payload.timestamp is not ISO 8601")
        for name in ("component", "group", "class"):
            if name in payload and not isinstance(payload[name], str):
                problems.append(f"payload.{name} must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
        problems += [f"unknown payload field {k}" for k in payload
                     if k not in {"summary", "source", "severity", "timestamp", "component", "group", "class",
                                  "custom_details"}]
    for link in body.get("links", []):
        if not isinstance(link, dict) or not str(link.get("href", "")).startswith("http"):
            problems.append(f"bad link {link!r:.80}")
    return problems


def check_alertmanager(body, request=None, raw: bytes = b"") -> list[str]:  # noqa: ARG001
    if not isinstance(body, list) or not body:
        return ["body must be a non-empty list of postable alerts"]
    problems = []
    for alert in body:
        labels = alert.get("labels")
        if not isinstance(labels, dict) or not labels:
            problems.append("labels are required")
            continue
        for name, value in labels.items():
            if not LABEL_NAME.match(name) or not isinstance(value, str):
                problems.append(f"bad label {name}={value!r}")
        for name, value in alert.get("annotations", {}).items():
            if not LABEL_NAME.match(name) or not isinstance(value, str):
                problems.append(f"bad annotation {name}")
        for name in ("startsAt", "endsAt"):
            if name in alert and not RFC3339.match(alert[name]):
                problems.append(f"{name} is not RFC 3339: {alert[name]}")
        if "generatorURL" in alert and not str(alert["generatorURL"]).startswith(("http://", "https://")):
            problems.append("generatorURL must be a URI")
        problems += [f"unknown field {k}" for k in alert
                     if k not in {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}]
    return problems


def check_webhook(secret: str) -> Callable[[object, web.Request, bytes], list[str]]:
    def check(body, request: web.Request, raw: bytes) -> list[str]:
        problems = []
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not verify(secret, stamp, raw, request.headers.get(SIGNATURE_HEADER, "")):
            problems.append("bad signature")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            problems.append("stale or missing timestamp")
        if not isinstance(body, dict) or body.get("type") != "luister.alert":
            return problems + ["not a luister.alert"]
        try:
            alert = Alert.model_validate_json(json.dumps(body["alert"]))
        except ValueError as exc:
            return problems + [f"alert does not validate: {exc}"]
        if body.get("delivery_id") != alert.version_id or request.headers.get("X-Luister-Delivery") != alert.version_id:
            problems.append("delivery id mismatch")
        return problems
    return check


@dataclass
class Received:
    at: float
    body: object
    status: int
    headers: dict[str, str]


@dataclass
class Receiver:
    """One destination's endpoint: answers from `script` (then `default`), records every request."""

    name: str
    path: str
    check: Callable
    ok_status: int = 200
    ok_body: str = "ok"
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    refuse: Callable[[object], int | None] = lambda body: None  # a permanent refusal for some payloads
    down: bool = False  # answer 500 to everything, e.g. to show it blocks no other destination
    received: list[Received] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
            self.violations.append("body is not JSON")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            self.violations.append("Content-Type is not application/json")
        problems = self.check(body, request, raw)
        self.violations += [f"{self.name}: {p}" for p in problems]
        if self.down:
            status, headers = 500, {}
        elif self.script:
            status, headers = self.script.pop(0)
        else:
            refused = self.refuse(body)
            status, headers = (refused, {}) if refused else (self.ok_status, {})
        self.received.append(Received(time.monotonic(), body, status, dict(request.headers)))
        text = self.ok_body if 200 <= status < 300 else "nope"
        return web.Response(status=status, text=text, headers=headers)

    def delivered(self) -> list[object]:
        return [r.body for r in self.received if 200 <= r.status < 300]


async def start(receivers: list[Receiver]) -> tuple[web.AppRunner, str]:
    """Serve every receiver on one local port; returns the runner and the base URL."""
    app = web.Application()
    for r in receivers:
        app.router.add_post(r.path, _adapt(r))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port the OS chose
    return runner, f"http://127.0.0.1:{port}"


def _adapt(receiver: Receiver):
    async def handler(request: web.Request) -> web.Response:
        return await receiver.handle(request)
    return handler
