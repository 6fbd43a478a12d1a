"""Where a live connector's output goes: mentions to the raw topic, rejects to the DLQ."""
from __future__ import annotations

import sys
import threading
from typing import Protocol, TextIO

from connectors.publisher import MentionPublisher
from schemas import DeadLetter, MentionDeletion, RawMention


class MentionSink(Protocol):
    def publish(self, mention: RawMention) -> None: ...

    def publish_deletion(self, deletion: MentionDeletion) -> None: ...

    def dead_letter(self, letter: DeadLetter) -> None: ...

    def flush(self) -> None:
        """Block until everything sent so far is acknowledged; raise if anything was lost."""

    def close(self) -> None: ...


class KafkaMentionSink:
    """One idempotent, acks=all producer for both topics, so one flush covers both."""

    def __init__(self, bootstrap: str, topic_raw: str, topic_dlq: str, *, client_id: str = "luister-connector"):
        self.publisher = MentionPublisher(bootstrap, topic_raw, client_id=client_id)
        self.topic_dlq = topic_dlq

    def publish(self, mention: RawMention) -> None:
        self.publisher.publish(mention)

    def publish_deletion(self, deletion: MentionDeletion) -> None:
        # keyed like the mention when the author is known (same partition, so it comes after the
        # mention); else by mention id: the pipeline copes with a deletion that overtakes its mention
        key = (deletion.author_key or deletion.id).encode()
        self.publisher.publish_bytes(deletion.model_dump_json(exclude_none=True).encode(), key=key)

    def dead_letter(self, letter: DeadLetter) -> None:
        self.publisher.publish_bytes(letter.model_dump_json().encode(), key=letter.id.encode(), topic=self.topic_dlq)

    def flush(self) -> None:
        self.publisher.flush()

    def close(self) -> None:
        self.publisher.close()


class MemorySink:
    """Keeps what was sent, in order (tests and `--dry-run`); thread-safe like the producer."""

    def __init__(self) -> None:
        self.mentions: list[RawMention] = []
        self.deletions: list[MentionDeletion] = []
        self.dead_letters: list[DeadLetter] = []
        self.flushes = 0
        self._lock = threading.Lock()

    def publish(self, mention: RawMention) -> None:
        with self._lock:
            self.mentions.append(mention)

    def publish_deletion(self, deletion: MentionDeletion) -> None:
        with self._lock:
            self.deletions.append(deletion)

    def dead_letter(self, letter: DeadLetter) -> None:
        with self._lock:
            self.dead_letters.append(letter)

    def flush(self) -> None:
        with self._lock:
            self.flushes += 1

    def close(self) -> None:
        pass

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.mentions]


class StdoutSink(MemorySink):
    """`luister connect --dry-run`: print each mention as a JSON line instead of publishing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stdout

    def publish(self, mention: RawMention) -> None:
        super().publish(mention)
        print(mention.model_dump_json(exclude={"raw"}, exclude_none=True), file=self.stream, flush=True)

    def publish_deletion(self, deletion: MentionDeletion) -> None:
        super().publish_deletion(deletion)
        print(deletion.model_dump_json(exclude_none=True), file=self.stream, flush=True)

    def dead_letter(self, letter: DeadLetter) -> None:
        super().dead_letter(letter)
        print(f"# dead letter: {letter.reason.value}: {letter.detail}", file=self.stream, flush=True)
