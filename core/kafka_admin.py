"""Create Luister's topics from the catalogue (core/topics.py), idempotently, and read topics, with kafka-python."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.settings import Settings
from core.topics import TopicSpec, catalogue

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> list[str]:
    """The topics that must exist before a worker starts (the worker creates the rest itself)."""
    return [spec.name for spec in catalogue(settings).values() if not spec.worker_creates]


def create_topics(settings: Settings) -> list[str]:
    """Create the missing topics of `topic_names` (idempotent); returns the names created."""
    return ensure_topics(settings, [role for role, spec in catalogue(settings).items() if not spec.worker_creates])


def ensure_topics(settings: Settings, roles: Iterable[str]) -> list[str]:
    """Create the catalogue's topics of these roles (core/topics.py) where missing; returns the names created."""
    specs = catalogue(settings)
    return ensure(settings.kafka_bootstrap, [specs[role] for role in roles])


def ensure(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="luister-admin")
    try:
        existing = set(admin.list_topics())
        created = []
        for spec in specs:
            if spec.name in existing:
                continue
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, spec.replication,
                                              topic_configs=dict(spec.configs))])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics", extra={"topics": ",".join(created)})
        return created
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def read_from(bootstrap: str, topic: str, start: dict[int, int], *, timeout_s: float = 10.0) -> list[bytes]:
    """Read every record after the `start` offsets up to the current end, no consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = consumer.end_offsets(tps)
        todo = {tp: end for tp, end in ends.items() if end > start.get(tp.partition, 0)}
        if not todo:
            return []
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, start.get(tp.partition, 0))
        values: list[bytes] = []
        import time

        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset < todo.get(tp, -1):
                        values.append(record.value)
                if tp in todo and consumer.position(tp) >= todo[tp]:
                    del todo[tp]
        return values
    finally:
        consumer.close()
