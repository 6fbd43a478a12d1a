"""The progress watchdog: lag without progress for `stall_after` seconds is a stall; anything else is not."""
from __future__ import annotations

from pipeline.watchdog import ProgressWatchdog

RAW0, RAW1 = ("mentions.raw", 0), ("mentions.raw", 1)


def test_lag_with_an_unmoving_offset_stalls_after_the_limit():
    dog = ProgressWatchdog(stall_after=30)
    assert dog.observe(0, {RAW0: 10}, {RAW0: 5}) == {}
    assert dog.observe(29, {RAW0: 10}, {RAW0: 7}) == {}
    assert dog.observe(31, {RAW0: 10}, {RAW0: 9}) == {RAW0: 31}


def test_progress_or_no_lag_resets_the_clock():
    dog = ProgressWatchdog(stall_after=30)
    dog.observe(0, {RAW0: 10, RAW1: 3}, {RAW0: 5, RAW1: 0})
    assert dog.observe(20, {RAW0: 11, RAW1: 3}, {RAW0: 5, RAW1: 0}) == {}  # RAW0 moved; RAW1 has nothing waiting
    assert dog.observe(45, {RAW0: 11, RAW1: 3}, {RAW0: 5, RAW1: 0}) == {}  # 25 s since RAW0 moved
    assert dog.observe(51, {RAW0: 11, RAW1: 3}, {RAW0: 5, RAW1: 2}) == {RAW0: 31}  # RAW1 idle until 45
    assert dog.observe(82, {RAW0: 11, RAW1: 3}, {RAW0: 5, RAW1: 2}) == {RAW0: 62, RAW1: 37}


def test_a_partition_that_moved_away_is_forgotten():
    dog = ProgressWatchdog(stall_after=30)
    dog.observe(0, {RAW0: 10}, {RAW0: 5})
    assert dog.observe(40, {}, {}) == {}
    assert dog.observe(50, {RAW0: 10}, {RAW0: 5}) == {}  # back on this worker: a fresh clock
