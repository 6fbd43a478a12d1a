"""Delivery on the real broker to local receivers that check every payload against the documented format:
retries after a 500 and a 429 with Retry-After, a failing destination blocks no other, nothing is lost
(an undelivered alert waits on the topic, across a restart), a permanent refusal is dead-lettered, and
every version is indexed in Elasticsearch."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiokafka import AIOKafkaProducer
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, TopicPartition

from core.kafka_admin import create_topics, end_offsets, read_from
from core.settings import Settings
from harness.isolation import drop_index_family, settings_from_env
from schemas import Alert, AlertKind, AlertStatus, DeadLetter
from sinks.alerts import runner
from tests.alerts_receivers import Receiver, check_alertmanager, check_pagerduty, check_slack, check_webhook, start

pytestmark = pytest.mark.e2e

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"  # 32 characters, like an integration key
SECRET = "webhook-secret"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)


def _alert(id_: str, kind: AlertKind, status: AlertStatus, severity: int, seq: int, brand: str = "Belnet") -> Alert:
    return Alert(id=id_, kind=kind, status=status, brand=brand, topic="storing", severity=severity,
                 summary=f"{kind.value} for {brand} <b>&</b> test", opened_at=T0,
                 updated_at=T0 + timedelta(minutes=seq),
                 resolved_at=T0 + timedelta(minutes=seq) if status is AlertStatus.resolved else None,
                 mention_ids=["twitter:1"], sequence=seq,
                 evidence={"signal": {"negative": 12, "expected_negative": 0.4, "ratio": 30.0, "window_seconds": 60},
                           "examples": [{"id": "twitter:1", "url": "https://social.example/a/status/1",
                                         "text": "storing <weer>", "author": "a", "followers": 10,
                                         "source": "twitter"}],
                           "links": ["https://social.example/a/status/1"]})


SURGE = "negative_surge:Belnet:storing:20261001T090000Z"
ALERTS = [
    _alert(SURGE, AlertKind.negative_surge, AlertStatus.open, 2, 0),
    _alert(SURGE, AlertKind.negative_surge, AlertStatus.update, 3, 1),
    _alert("severe_mention:PakjePost:legal_threat:x", AlertKind.severe_mention, AlertStatus.open, 3, 0, "PakjePost"),
    _alert("repeated:Snelhap:klant", AlertKind.repeated_negativity_spreading, AlertStatus.open, 1, 0, "Snelhap"),
    _alert("negative_surge:Rejectme:x:y", AlertKind.negative_surge, AlertStatus.open, 2, 0, "Rejectme"),
    _alert(SURGE, AlertKind.negative_surge, AlertStatus.resolved, 3, 2),
]


@pytest.fixture(scope="module")
def env(isolated_env):
    e = {**isolated_env, "LUISTER_ES_ALERTS_INDEX": f"{isolated_env['LUISTER_ES_INDEX_PREFIX']}-alerts",
         "LUISTER_ALERTS__RETRY_INITIAL_SECONDS": "0.2", "LUISTER_ALERTS__RETRY_MAX_SECONDS": "1",
         "LUISTER_ALERTS__PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "LUISTER_ALERTS__WEBHOOK_SECRET": SECRET}
    yield e
    drop_index_family(Settings().es_url, e["LUISTER_ES_ALERTS_INDEX"])


def _settings(env: dict[str, str], base: str) -> Settings:
    return settings_from_env({**env, "LUISTER_ALERTS__SLACK_URL": f"{base}/slack/T000/B000/XXX",
                              "LUISTER_ALERTS__PAGERDUTY_URL": f"{base}/v2/enqueue",
                              "LUISTER_ALERTS__ALERTMANAGER_URL": f"{base}/am",
                              "LUISTER_ALERTS__WEBHOOK_URL": f"{base}/hook"})


def _all_committed(settings: Settings, destinations: list[str]) -> bool:
    ends = end_offsets(settings.kafka_bootstrap, settings.topic_alerts)
    for name in destinations:
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=runner.group_id(settings, name),
                                 enable_auto_commit=False)
        try:
            committed = {p: consumer.committed(TopicPartition(settings.topic_alerts, p)) or 0 for p in ends}
            if any(committed[p] < end for p, end in ends.items()):
                return False
        finally:
            consumer.close()
    return True


async def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_every_destination_gets_valid_payloads_with_retries_and_nothing_is_lost(env):
    slack = Receiver("slack", "/slack/T000/B000/XXX", check_slack, script=[(500, {})])
    pagerduty = Receiver("pagerduty", "/v2/enqueue", check_pagerduty, ok_status=202,
                         ok_body='{"status":"success","message":"Event processed"}',
                         script=[(429, {"Retry-After": "1"})])
    alertmanager = Receiver("alertmanager", "/am/api/v2/alerts", check_alertmanager,
                            refuse=lambda body: 400 if body and body[0]["labels"]["brand"] == "Rejectme" else None)
    webhook = Receiver("webhook", "/hook", check_webhook(SECRET), down=True)
    receivers = [slack, pagerduty, alertmanager, webhook]
    wants = {"slack": 6, "pagerduty": 5, "alertmanager": 6, "webhook": 6}  # PagerDuty pages from severity 2

    async def scenario() -> Settings:
        http, base = await start(receivers)
        settings = _settings(env, base)
        create_topics(settings)
        dlq_start = end_offsets(settings.kafka_bootstrap, settings.topic_dlq)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        for alert in ALERTS:
            await producer.send_and_wait(settings.topic_alerts, alert.model_dump_json().encode(),
                                         key=alert.id.encode())
        await producer.stop()

        task = asyncio.create_task(runner.run(settings))
        try:
            # the webhook is down: the others still get everything
            await _wait(lambda: len(slack.delivered()) == wants["slack"] and
                        len(pagerduty.delivered()) == wants["pagerduty"] and
                        len(alertmanager.received) == wants["alertmanager"], 60, "the healthy destinations")
            await _wait(lambda: _all_committed(settings, ["slack", "pagerduty", "alertmanager", "elasticsearch"]), 30,
                        "their offsets to be committed")
            assert webhook.received and not webhook.delivered()
            assert not _all_committed(settings, ["webhook"])  # the undelivered alerts wait on the topic
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        # restart while the webhook is still failing, then heal it: it gets every alert, in order
        webhook.down = False
        task = asyncio.create_task(runner.run(settings))
        try:
            await _wait(lambda: len(webhook.delivered()) == wants["webhook"], 60, "the webhook to catch up")
            await asyncio.sleep(1.5)  # nothing delivered twice to the others after the restart
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await http.cleanup()
        letters = [DeadLetter.model_validate_json(v)
                   for v in read_from(settings.kafka_bootstrap, settings.topic_dlq, dlq_start)]
        assert [(d.stage, d.reason.value) for d in letters] == [("deliver-alertmanager", "rejected")]
        assert "HTTP 400" in letters[0].detail and b"Rejectme" in letters[0].original()
        return settings

    settings = asyncio.run(scenario())

    for r in receivers:
        assert r.violations == [], r.violations

    # Slack: the first attempt got a 500, the retry went through; every version arrived once, in order
    assert [r.status for r in slack.received][:2] == [500, 200]
    assert len(slack.delivered()) == 6
    assert "&lt;b&gt;" in slack.delivered()[0]["blocks"][1]["text"]["text"]  # mrkdwn escaped

    # PagerDuty: 429 + Retry-After 1 -> waited at least 1 s; trigger, trigger, resolve on one dedup_key
    first, second = pagerduty.received[:2]
    assert first.status == 429 and second.status == 202 and second.at - first.at >= 1.0
    events = [(b["event_action"], b["dedup_key"]) for b in pagerduty.delivered()]
    assert [e for e in events if e[1] == SURGE] == [("trigger", SURGE), ("trigger", SURGE), ("resolve", SURGE)]
    assert all(b["routing_key"] == ROUTING_KEY for b in pagerduty.delivered())
    assert not any(k == "repeated:Snelhap:klant" for _, k in events)  # severity 1: not paged
    surge_triggers = [b for b in pagerduty.delivered() if b["dedup_key"] == SURGE and b["event_action"] == "trigger"]
    assert [b["payload"]["severity"] for b in surge_triggers] == ["error", "critical"]

    # Alertmanager: the escalation ends the lower-severity copy; the resolve sets endsAt
    posted = alertmanager.delivered()
    update = next(b for b in posted if b[0]["annotations"]["status"] == "update")
    assert [a["labels"]["severity"] for a in update] == ["critical", "error", "warning", "info"]
    resolved = next(b for b in posted if b[0]["annotations"]["status"] == "resolved")
    assert resolved[0]["endsAt"] == "2026-10-01T09:02:00Z"

    # webhook: every version, signed, each delivery id once, an episode's versions in order
    ids = [b["delivery_id"] for b in webhook.delivered()]
    assert sorted(ids) == sorted(a.version_id for a in ALERTS)
    assert [i for i in ids if i.startswith(SURGE)] == [f"{SURGE}#{n:04d}" for n in range(3)]

    # Elasticsearch: every version is a document of its own
    es = Elasticsearch(settings.es_url)
    es.indices.refresh(index=settings.es_alerts_index)
    hits = es.search(index=settings.es_alerts_index, size=50)["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted(a.version_id for a in ALERTS)
    surge_versions = sorted((h["_source"]["sequence"], h["_source"]["status"]) for h in hits
                            if h["_source"]["id"] == SURGE)
    assert surge_versions == [(0, "open"), (1, "update"), (2, "resolved")]
    assert {a.version_id for a in map(Alert.model_validate_json, read_from(settings.kafka_bootstrap,
                                                                           settings.topic_alerts, {}))} \
        == {a.version_id for a in ALERTS}  # the topic still holds them all (delivery never deletes)
