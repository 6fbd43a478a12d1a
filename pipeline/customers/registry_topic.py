"""The compacted registry topic, for the CLI and start-up (kafka-python, blocking). It is created
from the catalogue (core/topics.py, role `account_links`) by `core.kafka_admin.ensure_topics`."""
from __future__ import annotations

import json
from collections.abc import Iterable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.customers.registry import Link, Registry, parse_record


def publish(bootstrap: str, topic: str, records: Iterable[tuple[str, Link | None]]) -> int:
    """Send links (or unlinks: None) keyed by account; returns how many were delivered."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             client_id="luister-registry")
    sent = 0
    try:
        for account, link in records:
            key, value = link.to_record() if link else (account.encode(), None)
            producer.send(topic, key=key, value=value).get(timeout=60)
            sent += 1
    finally:
        producer.close()
    return sent


def read_all(bootstrap: str, topic: str, timeout_s: float = 10.0) -> Registry:
    """The registry as the topic holds it now (read from the beginning up to the end)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1000)
    registry = Registry()
    try:
        tps = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        ends = {tp: off for tp, off in consumer.end_offsets(tps).items() if off > 0}
        if not ends:
            return registry
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        import time

        deadline = time.monotonic() + timeout_s
        while ends and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.key is not None:
                        registry.apply(*parse_record(record.key, record.value))
                if tp in ends and consumer.position(tp) >= ends[tp]:
                    del ends[tp]
        return registry
    finally:
        consumer.close()


def request_moves(bootstrap: str, control_topic: str, links: Iterable[Link]) -> int:
    """Ask the workers to move each account's own history into its customer (see merge.py)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             client_id="luister-registry")
    sent = 0
    try:
        for link in links:
            if link.account != link.customer_id:
                body = json.dumps({"op": "move", "into": link.customer_id}).encode()
                producer.send(control_topic, key=link.account.encode(), value=body).get(timeout=60)
                sent += 1
    finally:
        producer.close()
    return sent
