"""End to end on the real broker: a whole day of ordinary day/night variation and no burst raises no
negative_surge; a mention with severity 3 and a story that crossed three sites, sent afterwards, each
raise their own alert kind."""
from __future__ import annotations

from datetime import timedelta

import pytest
from kafka import KafkaConsumer, TopicPartition

from connectors.synthetic import daily_profile, generate
from core.kafka_admin import end_offsets
from harness.isolation import settings_from_env
from harness.wait import wait_for
from pipeline.crisis.simulate import classify
from schemas import Alert, AlertKind, AlertStatus, Flags, RepeatedNegativity, Sentiment
from tests.crisis_support import alerts_on_topic, crisis_env, publish_classified

pytestmark = pytest.mark.e2e

PEAK_RATE = 8.0  # mentions per minute at 14:00 UTC; a quarter of that at night
COUNT = int(PEAK_RATE * 0.625 * 1440)  # about one day


@pytest.fixture(scope="module")
def isolated_env(isolated_env):
    yield from crisis_env(isolated_env)


@pytest.fixture(scope="module")
def settings(isolated_env):
    return settings_from_env(isolated_env)


_alerts = alerts_on_topic


def _detector_caught_up(settings, by_brand_topic: str, expected: int) -> bool:
    ends = end_offsets(settings.kafka_bootstrap, by_brand_topic)
    if sum(ends.values()) < expected:
        return False
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=settings.app_id,
                             enable_auto_commit=False)  # reads the worker's commits; never joins the group
    try:
        done = {p: consumer.committed(TopicPartition(by_brand_topic, p)) or -1 for p in ends}
    finally:
        consumer.close()
    return all(done.get(p, -1) >= end for p, end in ends.items())


def test_a_day_of_daily_variation_raises_no_surge_then_severe_and_repeated_do(worker, settings):
    mentions = classify([m for m, _ in generate(COUNT, seed=5, rate_per_minute=PEAK_RATE,
                                                rate_profile=daily_profile())])
    assert mentions[-1].created_at - mentions[0].created_at > timedelta(hours=23)
    per_hour = {}
    for m in mentions:
        per_hour[m.created_at.hour] = per_hour.get(m.created_at.hour, 0) + 1
    assert max(per_hour.values()) > 3 * min(per_hour.values())  # really a day/night curve
    publish_classified(settings, mentions)
    by_brand_topic = f"{settings.topic_classified.rpartition('.')[0]}.by_brand"
    try:
        wait_for(lambda: _detector_caught_up(settings, by_brand_topic, len(mentions)), timeout=180, interval=2,
                 what="crisis detection to read the whole day")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log()}") from None
    alerts = _alerts(settings)
    assert [a for a in alerts if a.kind is AlertKind.negative_surge] == [], [a.summary for a in alerts]
    assert [a for a in alerts if a.kind is AlertKind.severe_mention] == []
    print(f"\n{len(mentions)} mentions over {mentions[-1].created_at - mentions[0].created_at}: "
          f"{len(alerts)} alerts")

    # one legal threat with severity 3 (as the triage enrichers will set it) and one story on three sites
    last = mentions[-1]
    severe = last.model_copy(update={
        "id": "twitter:severe-1", "created_at": last.created_at + timedelta(seconds=30), "severity": 3,
        "flags": Flags(legal_threat=True), "sentiment": Sentiment.negative, "brand": "Belnet",
        "text": "Ik stap naar de rechter, @Belnet. Mijn advocaat neemt contact op."})
    spreading = last.model_copy(update={
        "id": "review_site:story-3", "created_at": last.created_at + timedelta(seconds=40), "brand": "PakjePost",
        "sentiment": Sentiment.negative, "customer_id": "klant-42",
        "text": "Pakket kwijt en niemand van PakjePost reageert",
        "repeated_negativity": RepeatedNegativity(earlier_ids=["twitter:story-1", "facebook:story-2"],
                                                  sources=["twitter", "facebook", "review_site"], window_hours=72.0,
                                                  rule="same story on 3 sites")})
    publish_classified(settings, [severe, spreading])

    def kinds() -> dict[AlertKind, Alert]:
        return {a.kind: a for a in _alerts(settings) if a.status is AlertStatus.open}

    found = wait_for(lambda: (k := kinds()) and len(k) >= 2 and k, timeout=60, what="severe and repeated alerts")
    assert found[AlertKind.severe_mention].brand == "Belnet"
    assert found[AlertKind.severe_mention].topic == "legal_threat"
    assert found[AlertKind.severe_mention].severity == 3
    assert found[AlertKind.severe_mention].mention_ids == ["twitter:severe-1"]
    assert found[AlertKind.repeated_negativity_spreading].brand == "PakjePost"
    assert found[AlertKind.repeated_negativity_spreading].evidence["sites"] == ["facebook", "review_site", "twitter"]
    assert AlertKind.negative_surge not in found
