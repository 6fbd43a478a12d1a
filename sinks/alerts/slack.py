"""Slack incoming webhook: one Block Kit message per alert version.

Block Kit limits respected: header text <= 150 characters (plain_text), section text <= 3000, at most
10 fields of <= 2000 each, context <= 10 elements, <= 50 blocks; `text` is the notification fallback.
Slack answers 200 "ok"; 429 carries Retry-After.
"""
from __future__ import annotations

import json
from datetime import datetime

from schemas import Alert, AlertStatus
from sinks.alerts.base import KIND_TITLES, SEVERITY_NAMES, Destination, HttpRequest, links_of

STATUS_MARK = {AlertStatus.open: ":rotating_light: OPEN", AlertStatus.update: ":arrow_up: UPDATE",
               AlertStatus.resolved: ":white_check_mark: RESOLVED", AlertStatus.acknowledged: ":eyes: ACKNOWLEDGED"}


def escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(when: datetime) -> str:
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{when.isoformat()}>"


def blocks(alert: Alert) -> dict:
    mark = STATUS_MARK.get(alert.status, alert.status.value.upper())
    title = f"{mark} · {KIND_TITLES.get(alert.kind, alert.kind.value)} · {alert.brand}"
    signal = alert.evidence.get("signal") or {}
    fields = [
        f"*Brand*\n{escape(alert.brand)}",
        f"*Topic*\n{escape(alert.topic or '—')}",
        f"*Severity*\n{alert.severity} ({SEVERITY_NAMES.get(alert.severity, '?')})",
        f"*Opened*\n{_date(alert.opened_at)}",
    ]
    if signal:
        fields.append(f"*Negative in {signal.get('window_seconds', '?')}s*\n{signal.get('negative', '?')} "
                      f"(usual {signal.get('expected_negative', '?')})")
    if alert.resolved_at:
        fields.append(f"*Resolved*\n{_date(alert.resolved_at)}")
    if alert.status is AlertStatus.acknowledged:
        fields.append(f"*Acknowledged by*\n{escape(str(alert.evidence.get('acknowledged_by', '?')))}")
    out = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(alert.summary), 3000)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(f, 2000)} for f in fields[:10]]},
    ]
    examples = [e for e in alert.evidence.get("examples", []) if isinstance(e, dict)][:5]
    if examples:
        lines = []
        for e in examples:
            text = escape(_cut(str(e.get("text", "")), 200))
            who = f"@{escape(str(e.get('author', '?')))} ({e.get('followers', 0)} followers, {e.get('source', '?')})"
            lines.append(f"• <{e['url']}|{text}> — {who}" if e.get("url") else f"• {text} — {who}")
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("*Examples*\n" + "\n".join(lines),
                                                                                 3000)}})
    elif links_of(alert):
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            "*Links*\n" + "\n".join(f"• <{u}>" for u in links_of(alert)), 3000)}})
    out.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _cut(f"alert `{escape(alert.id)}` · version {alert.sequence} · Luister", 2000)}]})
    return {"text": _cut(f"[{alert.status.value}] {alert.summary}", 3000), "blocks": out}


class SlackDestination(Destination):
    name = "slack"

    def build(self, alert: Alert, *, now: datetime) -> HttpRequest:  # noqa: ARG002
        return HttpRequest(self.url, json.dumps(blocks(alert), ensure_ascii=False).encode(),
                           {"Content-Type": "application/json"})
