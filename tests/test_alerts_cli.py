"""`luister alerts tail | test | simulate` as a person would run them."""
from __future__ import annotations

import asyncio
import threading

import pytest
from click.testing import CliRunner

from connectors.publisher import MentionPublisher
from core.kafka_admin import create_topics
from luister.cli import main
from schemas import AlertStatus
from sinks.alerts.base import sample_alert
from tests.alerts_receivers import Receiver, check_webhook, start


class ServedReceivers:
    """The local receivers served from a background thread, for commands that run their own event loop."""

    def __init__(self, receivers: list[Receiver]):
        self.receivers = receivers
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        self.runner, base = asyncio.run_coroutine_threadsafe(start(self.receivers), self.loop).result(10)
        return base

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_alerts_test_sends_a_signed_open_and_resolve_to_the_webhook():
    hook = Receiver("webhook", "/hook", check_webhook("k"), script=[(503, {"Retry-After": "0"})])
    with ServedReceivers([hook]) as base:
        result = CliRunner().invoke(main, ["alerts", "test", "--destination", "webhook"],
                                    env={"LUISTER_ALERTS__WEBHOOK_URL": f"{base}/hook",
                                         "LUISTER_ALERTS__WEBHOOK_SECRET": "k",
                                         "LUISTER_ALERTS__RETRY_INITIAL_SECONDS": "0.1"})
    assert result.exit_code == 0, result.output
    assert "open     -> webhook: delivered after 2 attempt(s)" in result.output
    assert "resolved -> webhook: delivered after 1 attempt(s)" in result.output
    assert hook.violations == []
    assert [b["alert"]["status"] for b in hook.delivered()] == ["open", "resolved"]


def test_alerts_test_says_when_a_destination_is_not_configured():
    result = CliRunner().invoke(main, ["alerts", "test", "--destination", "slack"],
                                env={"LUISTER_ALERTS__SLACK_URL": ""})
    assert result.exit_code == 1 and "slack is not configured" in result.output


def test_alerts_simulate_reports_the_detection_delay():
    result = CliRunner().invoke(main, ["alerts", "simulate", "--count", "3400", "--burst-brand", "Belnet",
                                       "--burst-rate-per-minute", "40"])
    assert result.exit_code == 0, result.output
    assert "OPEN     negative_surge" in result.output and "RESOLVED negative_surge" in result.output
    assert "detection delay: 17.0s (stream time); other alerts opened: 0" in result.output


@pytest.mark.e2e
def test_alerts_tail_shows_the_alerts_on_the_topic(settings):
    create_topics(settings)
    first = sample_alert()
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_alerts) as pub:
        for a in (first, sample_alert(status=AlertStatus.resolved)):
            pub.publish_bytes(a.model_dump_json().encode(), key=a.id.encode())
    result = CliRunner().invoke(main, ["alerts", "tail", "--from-beginning", "--limit", "2", "--idle-timeout", "30"],
                                env={"LUISTER_TOPIC_ALERTS": settings.topic_alerts})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "Luister-test" in line]
    assert len(lines) == 2 and "OPEN" in lines[0] and "RESOLVED" in lines[1]
    assert "negative_surge" in lines[0] and "sev 3" in lines[0] and "v1" in lines[1]


@pytest.mark.e2e
def test_alerts_ack_publishes_an_acknowledged_version_of_the_latest(settings):
    from elasticsearch import AsyncElasticsearch

    from core.kafka_admin import end_offsets, read_from
    from harness.isolation import drop_index_family
    from schemas import Alert
    from sinks.elasticsearch.alerts_index import alert_document, ensure_alerts_index

    alias = f"{settings.es_index_prefix}-ack-alerts"
    opened = sample_alert()
    grown = opened.model_copy(update={"status": AlertStatus.update, "sequence": 1, "severity": 3})

    async def index() -> None:
        async with AsyncElasticsearch(settings.es_url) as es:
            await ensure_alerts_index(es, alias)
            for version in (opened, grown):
                doc_id, doc = alert_document(version)
                await es.index(index=alias, id=doc_id, document=doc, refresh=True)

    create_topics(settings)
    try:
        asyncio.run(index())
        start = end_offsets(settings.kafka_bootstrap, settings.topic_alerts)
        env = {"LUISTER_ES_ALERTS_INDEX": alias, "LUISTER_TOPIC_ALERTS": settings.topic_alerts}
        result = CliRunner().invoke(main, ["alerts", "ack", opened.id, "--by", "Sanne", "--note", "bel ik"], env=env)
        assert result.exit_code == 0, result.output
        assert f"acknowledged {opened.id}#0001.ack by Sanne" in result.output
        published = [Alert.model_validate_json(v) for v in read_from(settings.kafka_bootstrap, settings.topic_alerts,
                                                                      start)]
        assert [(a.status, a.sequence, a.severity, a.evidence["acknowledged_by"], a.evidence["note"])
                for a in published] == [(AlertStatus.acknowledged, 1, 3, "Sanne", "bel ik")]
        missing = CliRunner().invoke(main, ["alerts", "ack", "no-such-alert", "--by", "Sanne"], env=env)
        assert missing.exit_code != 0 and "no alert" in missing.output
    finally:
        drop_index_family(settings.es_url, alias)
