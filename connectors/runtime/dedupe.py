"""The native ids seen lately: a bounded, insertion-ordered set that fits in a checkpoint."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


class RecentIds:
    def __init__(self, capacity: int, initial: Iterable[str] = ()):
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        for native_id in initial:
            self.add(native_id)

    def __contains__(self, native_id: str) -> bool:
        return native_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, native_id: str) -> None:
        self._ids[native_id] = None
        self._ids.move_to_end(native_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def snapshot(self) -> list[str]:
        return list(self._ids)
