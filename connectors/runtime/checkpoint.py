"""Where a connector resumes from: its cursor and the native ids it published lately.

The Kafka store keeps one record per connector instance (key = instance name) in a
compacted topic, so the latest checkpoint survives and old ones are cleaned away. A
connector saves a checkpoint only after the broker acknowledged every mention before it,
so a restart never skips one; the remembered ids drop the few it may see again.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass
class Checkpoint:
    cursor: dict[str, Any] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    updated_at: str | None = None

    def to_json(self) -> bytes:
        return json.dumps({"cursor": self.cursor, "seen": self.seen,
                           "updated_at": self.updated_at or datetime.now(timezone.utc).isoformat()},
                          ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> "Checkpoint":
        doc = json.loads(data)
        return cls(cursor=dict(doc.get("cursor") or {}), seen=list(doc.get("seen") or []),
                   updated_at=doc.get("updated_at"))


class CheckpointStore(Protocol):
    def load(self, name: str) -> Checkpoint | None: ...

    def save(self, name: str, checkpoint: Checkpoint) -> None: ...

    def close(self) -> None: ...


class MemoryCheckpointStore:
    """Keeps checkpoints in this process (tests, dry runs); serialised like the real ones."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}
        self.saves = 0

    def load(self, name: str) -> Checkpoint | None:
        data = self.saved.get(name)
        return Checkpoint.from_json(data) if data is not None else None

    def save(self, name: str, checkpoint: Checkpoint) -> None:
        self.saved[name] = checkpoint.to_json()
        self.saves += 1

    def close(self) -> None:
        pass


class FileCheckpointStore:
    """One JSON file per instance, replaced atomically (for a connector run without Kafka)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return self.folder / f"{safe}.json"

    def load(self, name: str) -> Checkpoint | None:
        path = self._path(name)
        return Checkpoint.from_json(path.read_bytes()) if path.exists() else None

    def save(self, name: str, checkpoint: Checkpoint) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".ckpt-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(checkpoint.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path(name))

    def close(self) -> None:
        pass


class KafkaCheckpointStore:
    """Checkpoints in a compacted Kafka topic (created on first use: 1 partition, compacted)."""

    def __init__(self, bootstrap: str, topic: str, *, replication: int = 1):
        from kafka import KafkaProducer

        self.bootstrap, self.topic = bootstrap, topic
        self._ensure_topic(replication)
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="luister-checkpoints", acks="all",
                                       enable_idempotence=True, retries=2_147_483_647, delivery_timeout_ms=60_000)

    def _ensure_topic(self, replication: int) -> None:
        from core.kafka_admin import ensure
        from core.topics import checkpoints_spec

        ensure(self.bootstrap, [checkpoints_spec(self.topic, replication)])

    def load(self, name: str) -> Checkpoint | None:
        """Read the topic to its end; the last record for `name` wins (a tombstone erases)."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 client_id="luister-checkpoints-reader", isolation_level="read_committed")
        try:
            tps = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or {0})]
            ends = consumer.end_offsets(tps)
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            key, latest = name.encode(), None
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                for tp, records in consumer.poll(timeout_ms=1000).items():
                    for record in records:
                        if record.key == key:
                            latest = record.value
                    if consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            return Checkpoint.from_json(latest) if latest is not None else None
        finally:
            consumer.close()

    def save(self, name: str, checkpoint: Checkpoint) -> None:
        # synchronous: the checkpoint counts only once the broker has it
        self._producer.send(self.topic, key=name.encode(), value=checkpoint.to_json()).get(timeout=60)

    def close(self) -> None:
        self._producer.close(timeout=10)
