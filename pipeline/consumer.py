"""A Faust consumer that never lets an offset jump skip unprocessed mentions.

Why: our stream topics (raw, normalized, enriched, classified, by-brand) are written
without transactions and never compacted, so a partition's offsets arrive one by one.
Faust reads a forward jump in offsets as a "gap" (compaction, transaction markers),
counts the skipped offsets as done, and drops them if they are delivered afterwards.
Around a rebalance Faust can hand a stream records from where its fetcher was before,
past the committed offset it has just sought to (faust-streaming issues #216/#221):
records that were fetched but still queued when the rebalance cleared the queues
were then never processed — after a worker was killed, a mention was never indexed.

This consumer remembers, per partition of those topics, the next offset it should
deliver. On a forward jump it asks Kafka for the group's committed offset and the
partition's earliest offset: if the jump only skips what is committed (another worker
did it) or deleted (retention), the record is delivered; otherwise it is held back and
the partition is sought back, so every record is delivered in order.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable

from faust.types import TP

from core import metrics
from pipeline.faust_compat import AIOKafkaConsumer, AIOKafkaTransport, committed_and_earliest, committed_offsets

log = logging.getLogger(__name__)

#: seeking back to the same offset this often without the record there arriving: give up, deliver
MAX_SEEKS_TO_ONE_OFFSET = 20

#: topic names whose offsets are contiguous; pipeline/topics.py fills it from core/topics.py
CONTIGUOUS_TOPICS: set[str] = set()


def contiguous(names: Iterable[str]) -> None:
    """Declare topics that are written without transactions and never compacted."""
    CONTIGUOUS_TOPICS.update(names)


class OffsetGuard:
    """Per partition: the next offset to deliver; what to do when a record lands past it."""

    def __init__(self, max_seeks: int = MAX_SEEKS_TO_ONE_OFFSET):
        self.max_seeks = max_seeks
        self.next_offset: dict[TP, int] = {}
        self._seeks: dict[TP, tuple[int, int]] = {}  # tp -> (offset sought to, how often)

    def expect(self, tp: TP, offset: int | None) -> None:
        """The partition was sought: its next record is at `offset` (None: unknown, take what comes)."""
        if offset is None:
            self.next_offset.pop(tp, None)
        else:
            self.next_offset[tp] = offset

    def admit(self, tp: TP, offset: int) -> bool:
        """True: deliver the record. False: it lies past the next expected offset; call `resolve`."""
        expected = self.next_offset.get(tp)
        if expected is not None and offset > expected:
            return False
        self.next_offset[tp] = offset + 1
        return True

    def resolve(self, tp: TP, got: int, *, committed: int | None, earliest: int | None) -> int | None:
        """After a jump to `got`: None to deliver it, or the offset to seek the partition to.

        Records before the group's committed offset were processed (maybe by another worker);
        records before the earliest offset are gone (retention). Anything else is unprocessed."""
        expected = self.next_offset.get(tp)
        known = [v for v in (expected, committed, earliest) if v is not None]
        target = max(known) if known else got
        if got > target:
            sought_to, times = self._seeks.get(tp, (target, 0))
            times = times + 1 if sought_to == target else 1
            self._seeks[tp] = (target, times)
            if times <= self.max_seeks:
                self.next_offset[tp] = target
                return target
            log.error("seeking back did not bring the expected record; delivering past it",
                      extra={"topic": tp.topic, "partition": tp.partition, "expected": target, "got": got})
            metrics.OFFSET_JUMPS.labels(outcome="gave_up").inc()
        elif expected is not None and earliest is not None and earliest > expected and \
                (committed is None or committed < earliest):
            log.error("records were deleted by retention before they were processed",
                      extra={"topic": tp.topic, "partition": tp.partition, "expected": expected,
                             "earliest": earliest})
            metrics.OFFSET_JUMPS.labels(outcome="deleted").inc()
        else:
            metrics.OFFSET_JUMPS.labels(outcome="already_processed").inc()
        self._seeks.pop(tp, None)
        self.next_offset[tp] = got + 1
        return None


class InOrderConsumer(AIOKafkaConsumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.guard = OffsetGuard()

    async def perform_seek(self) -> None:
        await super().perform_seek()
        # after a rebalance: the next record of each partition is the one at its committed offset
        for tp, offset in committed_offsets(self).items():
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
                    committed, earliest = await committed_and_earliest(self, tp)
                    seek_to = self.guard.resolve(tp, message.offset, committed=committed, earliest=earliest)
                    if seek_to is not None:
                        sought_now.add(tp)
                        log.warning("offset jump held back; seeking to the first unprocessed offset",
                                    extra={"topic": tp.topic, "partition": tp.partition, "expected": expected,
                                           "got": message.offset, "committed": committed, "seek_to": seek_to})
                        metrics.OFFSET_JUMPS.labels(outcome="sought_back").inc()
                        await self.seek(tp, seek_to)
                        continue
            yield tp, message



class InOrderTransport(AIOKafkaTransport):
    Consumer = InOrderConsumer
