"""Publishing raw mentions to Kafka with kafka-python, safely.

acks=all + idempotence: a broker hiccup retries without duplicating or reordering;
`flush()` raises if any record could not be delivered, so nothing is lost silently.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas import RawMention

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    pass


class MentionPublisher:
    def __init__(self, bootstrap_servers: str, topic: str, *, linger_ms: int = 5, client_id: str = "luister-connector"):
        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            retries=2_147_483_647,  # bounded by delivery_timeout_ms, not by count
            delivery_timeout_ms=120_000,
            max_request_size=2 * 1024 * 1024,
        )
        self._lock = threading.Lock()
        self.delivered = 0
        self._errors: list[BaseException] = []

    def publish(self, mention: RawMention) -> None:
        """Send a valid mention, keyed by its customer, stamped with the publish time."""
        if mention.ingested_at is None:
            mention = mention.model_copy(update={"ingested_at": datetime.now(timezone.utc)})
        self.publish_bytes(mention.model_dump_json(exclude_none=True).encode(), key=mention.customer_key.encode())

    def publish_bytes(self, value: bytes, key: bytes | None = None, *, topic: str | None = None) -> None:
        """Send bytes as they are (replay of a recorded stream, bad records included), to
        this publisher's topic or to `topic` (e.g. a connector's dead letters)."""
        future = self._producer.send(topic or self.topic, value=value, key=key)
        future.add_callback(self._on_delivered)
        future.add_errback(self._on_error)

    def _on_delivered(self, _metadata) -> None:
        with self._lock:
            self.delivered += 1

    def _on_error(self, exc: BaseException) -> None:
        log.error("delivery failed", extra={"topic": self.topic, "error": repr(exc)})
        with self._lock:
            self._errors.append(exc)

    def flush(self, timeout: float | None = 120.0) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise DeliveryFailed(f"could not deliver to {self.topic}: {exc}") from exc
        if self._errors:
            raise DeliveryFailed(f"{len(self._errors)} record(s) were not delivered to {self.topic}: {self._errors[0]!r}")

    def close(self) -> None:
        self._producer.close(timeout=30)

    def __enter__(self) -> "MentionPublisher":
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if exc_info[0] is None:
                self.flush()
        finally:
            self.close()
