"""Alert payloads against each destination's documented format, and the retry policy, without Kafka."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from aiohttp import web

from schemas import Alert, AlertKind, AlertStatus
from sinks.alerts.alertmanager import AlertmanagerDestination, postable_alerts
from sinks.alerts.base import Backoff, deliver, judge, parse_retry_after, sample_alert
from sinks.alerts.pagerduty import PagerDutyDestination, dedup_key, event
from sinks.alerts.slack import SlackDestination, blocks
from sinks.alerts.webhook import WebhookDestination, sign, verify
from tests.alerts_receivers import check_alertmanager, check_pagerduty, check_slack

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=timezone.utc)
KEY = "R0123456789abcdef0123456789ABCDE"


def alert(status=AlertStatus.open, severity=2, sequence=0, summary="Negative surge for Belnet <storing> & more",
          **kw) -> Alert:
    base = sample_alert(NOW, status)
    return base.model_copy(update={"severity": severity, "sequence": sequence, "summary": summary,
                                   "id": "negative_surge:Belnet:storing:20261001T090017Z", "brand": "Belnet",
                                   "evidence": {**base.evidence, "examples": [
                                       {"id": "twitter:1", "url": "https://social.example/a/status/1",
                                        "text": "storing <weer> & nu", "author": "a", "followers": 12,
                                        "source": "twitter"}]}, **kw})


def test_slack_block_kit_is_valid_escaped_and_within_limits():
    msg = blocks(alert())
    assert check_slack(msg) == []
    assert msg["blocks"][0]["type"] == "header" and "Belnet" in msg["blocks"][0]["text"]["text"]
    assert "&lt;storing&gt; &amp; more" in msg["blocks"][1]["text"]["text"]
    assert "<https://social.example/a/status/1|storing &lt;weer&gt; &amp; nu>" in msg["blocks"][3]["text"]["text"]
    long = blocks(alert(summary="x" * 1999, brand="B" * 100, topic="t" * 150))
    assert check_slack(long) == [] and len(long["blocks"][0]["text"]["text"]) <= 150
    header = blocks(alert(brand="B" * 100, kind=AlertKind.repeated_negativity_spreading))["blocks"][0]
    assert len(header["text"]["text"]) == 150
    assert check_slack(blocks(alert(AlertStatus.resolved, sequence=3))) == []


def test_pagerduty_trigger_and_resolve_share_the_dedup_key():
    trigger = event(alert(severity=3), KEY, client_url="https://luister.example")
    assert check_pagerduty(trigger) == []
    assert trigger["event_action"] == "trigger" and trigger["payload"]["severity"] == "critical"
    assert trigger["dedup_key"] == "negative_surge:Belnet:storing:20261001T090017Z"
    assert trigger["links"][0]["href"].startswith("https://")
    assert event(alert(severity=1), KEY)["payload"]["severity"] == "warning"
    resolve = event(alert(AlertStatus.resolved, sequence=2), KEY)
    assert check_pagerduty(resolve) == []
    assert resolve == {"routing_key": KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    long_id = "x" * 400
    assert len(dedup_key(long_id)) <= 255 and dedup_key(long_id) == dedup_key(long_id) != dedup_key("y" * 400)
    dest = PagerDutyDestination("http://127.0.0.1:1/v2/enqueue", KEY, min_severity=2)
    assert not dest.wants(alert(severity=1)) and dest.wants(alert(severity=2))


def test_alertmanager_postable_alerts():
    first = postable_alerts(alert(), now=NOW)
    assert check_alertmanager(first) == [] and len(first) == 1
    assert first[0]["labels"]["severity"] == "error" and first[0]["labels"]["brand"] == "Belnet"
    assert first[0]["endsAt"] == "2026-10-02T09:30:00Z"  # updated_at + 24 h
    escalated = postable_alerts(alert(AlertStatus.update, severity=3, sequence=1), now=NOW)
    assert check_alertmanager(escalated) == []
    assert [a["labels"]["severity"] for a in escalated] == ["critical", "error", "warning", "info"]
    assert all(a["endsAt"] == "2026-10-01T09:30:00Z" for a in escalated[1:])  # the lower copies end now
    resolved = postable_alerts(alert(AlertStatus.resolved, sequence=2), now=NOW)
    assert resolved[0]["endsAt"] == "2026-10-01T09:30:00Z"
    assert AlertmanagerDestination("http://am:9093/").url == "http://am:9093/api/v2/alerts"


def test_webhook_signature_verifies_and_detects_tampering():
    dest = WebhookDestination("http://127.0.0.1:1/hook", "s3cret")
    req = dest.build(alert(), now=NOW)
    ts = req.headers["X-Luister-Timestamp"]
    assert ts == str(int(NOW.timestamp()))
    assert verify("s3cret", ts, req.body, req.headers["X-Luister-Signature"])
    assert not verify("s3cret", ts, req.body + b" ", req.headers["X-Luister-Signature"])
    assert not verify("other", ts, req.body, req.headers["X-Luister-Signature"])
    assert sign("s3cret", ts, req.body).startswith("sha256=")
    body = json.loads(req.body)
    assert Alert.model_validate_json(json.dumps(body["alert"])).version_id == body["delivery_id"]
    with pytest.raises(ValueError):
        WebhookDestination("http://127.0.0.1:1/hook", "")


def test_retry_after_and_what_is_worth_retrying():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 01 Oct 2026 09:31:00 GMT", NOW) == 60.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert judge(202).delivered and judge(200).delivered
    assert judge(429, {"Retry-After": "3"}).retry_after == 3.0 and not judge(429).permanent
    assert not judge(500).permanent and not judge(503).permanent and not judge(408).permanent
    assert judge(400).permanent and judge(404).permanent and judge(301).permanent
    b = Backoff(initial=1.0, maximum=8.0, retry_after_max=60.0)
    assert all(0.5 <= b.delay(0) <= 1.0 for _ in range(20))
    assert all(4.0 <= b.delay(10) <= 8.0 for _ in range(20))
    assert b.delay(5, retry_after=30.0) == 30.0 and b.delay(5, retry_after=600.0) == 60.0


def test_deliver_retries_500_honours_429_retry_after_and_stops_on_400():
    answers: list[tuple[int, dict]] = []
    seen: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.read())
        status, headers = answers.pop(0) if answers else (200, {})
        return web.Response(status=status, headers=headers, text="ok")

    async def scenario():
        app = web.Application()
        app.router.add_post("/hook", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # noqa: SLF001
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        dest = SlackDestination(url)
        backoff = Backoff(initial=1.0, maximum=4.0)
        try:
            async with aiohttp.ClientSession() as session:
                answers[:] = [(500, {}), (429, {"Retry-After": "7"}), (503, {}), (200, {})]
                ok = await deliver(session, dest, alert(), backoff, sleep=sleep)
                assert ok.delivered and ok.attempts == 4
                assert 0.5 <= slept[0] <= 1.0 and slept[1] == 7.0 and 1.0 <= slept[2] <= 4.0
                answers[:] = [(400, {})]
                refused = await deliver(session, dest, alert(), backoff, sleep=sleep)
                assert not refused.delivered and refused.outcome.permanent and refused.attempts == 1
                answers[:] = [(500, {})] * 5
                gave_up = await deliver(session, dest, alert(), backoff, sleep=sleep, max_attempts=2)
                assert not gave_up.delivered and gave_up.attempts == 2
            unreachable = SlackDestination("http://127.0.0.1:9/nothing-listens-here")
            async with aiohttp.ClientSession() as session:
                down = await deliver(session, unreachable, alert(), backoff, sleep=sleep, max_attempts=2, timeout=2)
            assert not down.delivered and not down.outcome.permanent and down.outcome.status is None
        finally:
            await runner.cleanup()
        assert all(check_slack(json.loads(body)) == [] for body in seen)

    asyncio.run(scenario())


def test_sample_alert_is_a_valid_marked_test():
    a = sample_alert(NOW)
    assert a.brand == "Luister-test" and "TEST" in a.summary and a.evidence["test"] is True
    r = sample_alert(NOW, AlertStatus.resolved)
    assert r.id == a.id and r.sequence == 1 and r.resolved_at == NOW
    assert a.kind is AlertKind.negative_surge and a.opened_at == NOW - timedelta(minutes=1)


def test_an_acknowledgement_reaches_pagerduty_and_slack_but_not_alertmanager():
    acked = alert(AlertStatus.acknowledged, sequence=1).model_copy(
        update={"evidence": {"acknowledged_by": "Sanne <webcare>"}})
    assert acked.version_id.endswith("#0001.ack")
    body = event(acked, KEY)
    assert check_pagerduty(body) == [] and body["event_action"] == "acknowledge" and "payload" not in body
    msg = blocks(acked)
    assert check_slack(msg) == [] and "ACKNOWLEDGED" in msg["blocks"][0]["text"]["text"]
    assert "Sanne &lt;webcare&gt;" in json.dumps(msg)
    assert not AlertmanagerDestination("http://am:9093").wants(acked)
    assert AlertmanagerDestination("http://am:9093").wants(alert())
