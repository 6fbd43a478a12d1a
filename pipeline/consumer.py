"""A Faust consumer that never lets an offset jump skip unprocessed mentions.

Why: our stream topics (raw, normalized, enriched, classified, by-brand) are written
without transactions and never compacted, so a partition's offsets arrive one by one.
Faust reads a forward jump in offsets as a "gap" (compaction, transaction markers),
counts the skipped offsets as done, and drops them if they are delivered afterwards.
Around a rebalance Faust can hand a stream a record fetched before the seek to the
committed offset (faust-streaming issues #216/#221), so that jump swallows records that
no one processed: after a worker is killed, a mention may never be indexed.

This consumer remembers, per partition of those topics, the next offset it should
deliver. A record beyond it is held back and the partition is sought back to the
expected offset, so every record is delivered in order. A jump that persists after
a few seeks is real (retention deleted the records) and is let through, as Faust would.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from luister import metrics

log = logging.getLogger(__name__)

#: a jump seen this many times at the same expected offset is real, not a stale record
REAL_GAP_AFTER_SEEKS = 3

#: topic names whose offsets are contiguous; pipeline.topics fills it as topics are declared
CONTIGUOUS_TOPICS: set[str] = set()


def contiguous(names: Iterable[str]) -> None:
    """Declare topics that are written without transactions and never compacted."""
    CONTIGUOUS_TOPICS.update(names)


class OffsetGuard:
    """Per partition: the next offset to deliver, and how often a jump past it was sought back."""

    def __init__(self, real_gap_after: int = REAL_GAP_AFTER_SEEKS):
        self.real_gap_after = real_gap_after
        self.next_offset: dict[TP, int] = {}
        self._seeks_at: dict[TP, tuple[int, int]] = {}  # tp -> (expected offset, seeks made for it)

    def expect(self, tp: TP, offset: int | None) -> None:
        """The partition was sought: its next record is at `offset` (None: unknown, take what comes)."""
        if offset is None:
            self.next_offset.pop(tp, None)
        else:
            self.next_offset[tp] = offset

    def admit(self, tp: TP, offset: int) -> bool:
        """True: deliver the record. False: hold it back and seek the partition to `next_offset[tp]`."""
        expected = self.next_offset.get(tp)
        if expected is not None and offset > expected:
            previous, seeks = self._seeks_at.get(tp, (expected, 0))
            seeks = seeks + 1 if previous == expected else 1
            self._seeks_at[tp] = (expected, seeks)
            if seeks <= self.real_gap_after:
                return False
            log.warning("offset gap persists after seeking back; records were deleted (retention): going on",
                        extra={"topic": tp.topic, "partition": tp.partition, "expected": expected, "got": offset})
            metrics.OFFSET_JUMPS.labels(outcome="accepted").inc()
        self.next_offset[tp] = offset + 1
        return True


class InOrderConsumer(faust_aiokafka.Consumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.guard = OffsetGuard()

    async def perform_seek(self) -> None:
        await super().perform_seek()
        # after a rebalance: the next record of each partition is the one at its committed offset
        for tp, offset in self._committed_offset.items():
            self.guard.expect(tp, offset)

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self.guard.expect(partition, offset)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, object]]:
        sought_now: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            if tp.topic in CONTIGUOUS_TOPICS:
                if tp in sought_now:
                    continue  # the rest of a stale batch for a partition we just sought back
                if not self.guard.admit(tp, message.offset):
                    expected = self.guard.next_offset[tp]
                    sought_now.add(tp)
                    log.warning("offset jump held back; seeking to the expected offset",
                                extra={"topic": tp.topic, "partition": tp.partition, "expected": expected,
                                       "got": message.offset})
                    metrics.OFFSET_JUMPS.labels(outcome="sought_back").inc()
                    await self.seek(tp, expected)
                    continue
            yield tp, message


class InOrderTransport(faust_aiokafka.Transport):
    Consumer = InOrderConsumer

