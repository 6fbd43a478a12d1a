"""A bounded, thread-safe least-recently-used map, read and filled a batch at a time.

The classify stage asks the same pure questions again and again (a retweet's text, a post's
language): the answer is looked up for a whole batch at once, only the misses are computed
(together, outside the lock: two model threads may do so at once) and then stored."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The keys that are stored, with their values; each marked as just used."""
        found: dict[K, V] = {}
        with self._lock:
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
        return found

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        """Store these (the newest); the least recently used go when the map is full."""
        with self._lock:
            self._items.update(items)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
