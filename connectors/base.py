"""The contract of every connector: produce records, the base class publishes them.

A connector yields `RawMention`s (validated, published keyed by customer) or, for a
faithful replay of a recorded stream, raw `bytes` that go to the topic unchanged so
the pipeline's `normalize` stage judges (and dead-letters) them.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from connectors.publisher import MentionPublisher
from schemas import RawMention

log = logging.getLogger(__name__)

Record = RawMention | bytes


@dataclass
class PublishStats:
    valid: int = 0
    passthrough: int = 0  # bytes sent unchanged; normalize will judge them
    published_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.valid + self.passthrough


class Connector(ABC):
    name: str = "connector"

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Yield records in the order they should be published."""

    def run(
        self,
        publisher: MentionPublisher,
        *,
        limit: int | None = None,
        rate_per_second: float | None = None,
        progress: Callable[[PublishStats], None] | None = None,
        progress_every: int = 100,
    ) -> PublishStats:
        stats = PublishStats()
        started = time.monotonic()
        for n, record in enumerate(self.records()):
            if limit is not None and n >= limit:
                break
            if rate_per_second:
                # pace against the schedule, not per record, so slow sends do not drift
                delay = started + n / rate_per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if isinstance(record, RawMention):
                publisher.publish(record)
                stats.valid += 1
                stats.published_ids.append(record.id)
            else:
                publisher.publish_bytes(record)
                stats.passthrough += 1
            if progress and stats.total % progress_every == 0:
                progress(stats)
        publisher.flush()
        stats.seconds = time.monotonic() - started
        log.info("connector finished", extra={"connector": self.name, "valid": stats.valid,
                                              "passthrough": stats.passthrough, "seconds": round(stats.seconds, 2)})
        return stats
