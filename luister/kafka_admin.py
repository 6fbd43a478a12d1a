"""Create Luister's topics (idempotent) and read topic sizes, with kafka-python."""
from __future__ import annotations

import logging

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from luister.config import Settings

log = logging.getLogger(__name__)

# the dead-letter topic is kept for a month: someone has to look at what landed there
DLQ_RETENTION_MS = str(30 * 24 * 3600 * 1000)


def topic_names(settings: Settings) -> list[str]:
    return [settings.topic_raw, settings.topic_normalized, settings.topic_classified, settings.topic_dlq,
            settings.topic_alerts]


def create_topics(settings: Settings) -> list[str]:
    """Create missing topics; returns the names created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="luister-admin")
    try:
        existing = set(admin.list_topics())
        wanted = []
        for name in topic_names(settings):
            if name in existing:
                continue
            configs = {"retention.ms": DLQ_RETENTION_MS} if name == settings.topic_dlq else {}
            wanted.append(NewTopic(name, settings.topic_partitions, settings.topic_replication, topic_configs=configs))
        created = []
        for topic in wanted:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
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
