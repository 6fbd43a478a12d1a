"""Helpers for the crisis tests: publish classified mentions where crisis detection starts."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from connectors.publisher import MentionPublisher
from core.kafka_admin import read_from
from harness.isolation import drop_index_family
from schemas import Alert, ClassifiedMention

# One partition per topic: a replay at full speed compresses hours of stream time into seconds, and
# partitions read at different paces would deliver a brand's mentions many minutes (of stream time) out
# of order, far beyond what a live stream sees. Reordering within the allowed lateness is covered by
# tests/test_crisis_detect.py.
PARTITIONS = "1"
PAGES_TOKEN = "crisis-page-test-token"


def crisis_page(port: int, brand: str, token: str | None = PAGES_TOKEN) -> tuple[int, dict]:
    """GET the worker's /crisis/<brand>/ page (with the bearer token unless None): (status, JSON)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/crisis/{brand}/")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def crisis_env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A test module's isolated env plus its own alerts index, on one partition; drops the index after."""
    from core.settings import Settings

    env = {**isolated_env, "LUISTER_ES_ALERTS_INDEX": f"{isolated_env['LUISTER_ES_INDEX_PREFIX']}-alerts",
           "LUISTER_TOPIC_PARTITIONS": PARTITIONS, "LUISTER_WORKER_PAGES_TOKEN": PAGES_TOKEN}
    yield env
    drop_index_family(Settings().es_url, env["LUISTER_ES_ALERTS_INDEX"])


def alerts_on_topic(settings) -> list[Alert]:
    """Every alert version on the alerts topic so far."""
    return [Alert.model_validate_json(v) for v in read_from(settings.kafka_bootstrap, settings.topic_alerts, {})]


def publish_classified(settings, mentions: Iterable[ClassifiedMention]) -> int:
    """Publish to the classified topic keyed by customer, as the pipeline does; returns the count."""
    n = 0
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_classified) as pub:
        for m in mentions:
            pub.publish_bytes(m.model_dump_json(exclude_none=True).encode(), key=m.customer_id.encode())
            n += 1
    return n

