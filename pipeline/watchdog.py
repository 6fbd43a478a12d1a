"""Is every assigned partition making progress? A partition with lag whose committed offset has not
moved for `stall_after` seconds is stalled: records wait and nothing takes them (a stage stuck on an
await, a partition Faust stopped fetching). Pure: the ops stage feeds it committed offsets and lag."""
from __future__ import annotations

from collections.abc import Mapping

TP = tuple[str, int]


class ProgressWatchdog:
    def __init__(self, stall_after: float):
        self.stall_after = stall_after
        self._since: dict[TP, tuple[int, float]] = {}  # partition -> (committed offset, when it last moved)

    def observe(self, now: float, committed: Mapping[TP, int], lag: Mapping[TP, int]) -> dict[TP, float]:
        """The stalled partitions, each with how long (seconds) it has made no progress."""
        stalled: dict[TP, float] = {}
        for tp, waiting in lag.items():
            offset = committed.get(tp, -1)
            seen = self._since.get(tp)
            if seen is None or seen[0] != offset or waiting <= 0:
                self._since[tp] = (offset, now)
                continue
            if now - seen[1] >= self.stall_after:
                stalled[tp] = now - seen[1]
        for tp in set(self._since) - set(lag):  # no longer ours (a rebalance moved it)
            del self._since[tp]
        return stalled
