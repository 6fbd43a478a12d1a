"""The in-order guard of pipeline/consumer.py: a record past the next expected offset is held back
and the partition sought back, unless Kafka says the skipped records were processed or deleted."""
from __future__ import annotations

from faust.types import TP

from pipeline.consumer import OffsetGuard

P0 = TP("mentions.raw", 0)
P1 = TP("mentions.raw", 1)


def test_records_in_order_are_delivered_and_move_the_expected_offset():
    guard = OffsetGuard()
    guard.expect(P0, 10)
    assert [guard.admit(P0, o) for o in (10, 11, 12)] == [True, True, True]
    assert guard.next_offset[P0] == 13
    assert guard.admit(P1, 99)  # nothing known of this partition: taken as it comes


def test_a_stale_record_past_the_commit_is_held_back_and_the_partition_sought_to_the_commit():
    guard = OffsetGuard()
    guard.expect(P0, 10)  # the committed offset, after a rebalance
    assert guard.admit(P0, 57) is False  # fetched before the seek: 10..56 were never processed
    assert guard.resolve(P0, 57, committed=10, earliest=0) == 10
    assert guard.next_offset[P0] == 10
    assert guard.admit(P0, 10) and guard.admit(P0, 11)


def test_a_jump_over_records_another_worker_committed_is_delivered():
    guard = OffsetGuard()
    guard.expect(P0, 11)  # what this worker last knew of a partition it owned before
    assert guard.admit(P0, 30) is False
    assert guard.resolve(P0, 30, committed=30, earliest=0) is None  # the other owner got to 30
    assert guard.next_offset[P0] == 31


def test_a_jump_into_a_partly_committed_range_seeks_to_the_commit():
    guard = OffsetGuard()
    guard.expect(P0, 11)
    assert guard.resolve(P0, 40, committed=25, earliest=0) == 25


def test_records_deleted_by_retention_are_passed_over():
    guard = OffsetGuard()
    guard.expect(P0, 10)
    assert guard.resolve(P0, 40, committed=10, earliest=40) is None
    assert guard.next_offset[P0] == 41


def test_seeking_back_that_never_brings_the_record_gives_up_after_a_limit():
    guard = OffsetGuard(max_seeks=2)
    guard.expect(P0, 10)
    assert [guard.resolve(P0, 40, committed=10, earliest=0) for _ in range(3)] == [10, 10, None]
    assert guard.next_offset[P0] == 41


def test_an_unknown_committed_offset_takes_what_comes():
    guard = OffsetGuard()
    guard.expect(P0, 10)
    guard.expect(P0, None)  # never committed: auto_offset_reset decides where reading starts
    assert guard.admit(P0, 3) and guard.next_offset[P0] == 4
