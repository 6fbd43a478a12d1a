"""The in-order guard of pipeline/consumer.py: a stale record past the expected offset is held
back (the consumer seeks back), a gap that persists is real and let through."""
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


def test_a_record_past_the_expected_offset_is_held_back_until_the_expected_one_comes():
    guard = OffsetGuard()
    guard.expect(P0, 10)
    assert guard.admit(P0, 57) is False  # fetched before the seek to the committed offset
    assert guard.next_offset[P0] == 10  # still wants offset 10: nothing skipped
    assert guard.admit(P0, 10) and guard.admit(P0, 11)
    assert guard.admit(P1, 99)  # another partition, nothing known of it: taken as it comes


def test_a_gap_that_persists_after_seeking_back_is_real_and_let_through():
    guard = OffsetGuard(real_gap_after=2)
    guard.expect(P0, 10)
    assert [guard.admit(P0, 40) for _ in range(3)] == [False, False, True]  # retention deleted 10..39
    assert guard.next_offset[P0] == 41
    assert guard.admit(P0, 60) is False  # a new jump starts counting afresh


def test_an_unknown_committed_offset_takes_what_comes():
    guard = OffsetGuard()
    guard.expect(P0, 10)
    guard.expect(P0, None)  # never committed: auto_offset_reset decides where reading starts
    assert guard.admit(P0, 3) and guard.next_offset[P0] == 4
