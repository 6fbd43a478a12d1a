"""Both Kafka clients Luister uses work against the local broker: kafka-python
(connectors, admin) and aiokafka (inside Faust), in both directions."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer

from connectors.publisher import MentionPublisher
from core.settings import Settings

pytestmark = pytest.mark.e2e


def test_kafka_python_to_aiokafka_and_back(services):
    bootstrap = Settings().kafka_bootstrap
    topic = f"test-clients-{uuid.uuid4().hex[:8]}"
    sent = [f"bericht {i} ✓".encode() for i in range(20)]
    with MentionPublisher(bootstrap, topic) as pub:
        for value in sent:
            pub.publish_bytes(value, key=b"klant-1")
    assert pub.delivered == len(sent)

    async def roundtrip() -> list[bytes]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False)
        await consumer.start()
        received: list[bytes] = []
        try:
            while len(received) < len(sent):
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), timeout=30)
                received += [r.value for records in batch.values() for r in records]
        finally:
            await consumer.stop()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"terug van aiokafka", key=b"klant-1")
        finally:
            await producer.stop()
        return received

    assert asyncio.run(roundtrip()) == sent  # one key, one partition: order kept

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, enable_auto_commit=False)
    values = [r.value for r in consumer]
    consumer.close()
    assert values == [*sent, b"terug van aiokafka"]
