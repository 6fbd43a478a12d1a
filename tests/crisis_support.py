"""Helpers for the crisis tests: publish classified mentions where crisis detection starts."""
from __future__ import annotations

from collections.abc import Iterable

from connectors.publisher import MentionPublisher
from schemas import ClassifiedMention


def publish_classified(settings, mentions: Iterable[ClassifiedMention]) -> int:
    """Publish to the classified topic keyed by customer, as the pipeline does; returns the count."""
    n = 0
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_classified) as pub:
        for m in mentions:
            pub.publish_bytes(m.model_dump_json(exclude_none=True).encode(), key=m.customer_id.encode())
            n += 1
    return n


def settings_from_env(env: dict[str, str]):
    """Settings as a worker started with `env` reads them (nested LUISTER_CRISIS__* included)."""
    import os
    from unittest import mock

    from luister.config import Settings

    with mock.patch.dict(os.environ, env):
        return Settings()
