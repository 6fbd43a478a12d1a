"""core.lru.LRU: bounded, least recently used out first, safe across threads."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from core.lru import LRU


def test_the_least_recently_used_go_first():
    cache: LRU[str, int] = LRU(3)
    cache.put_many([("a", 1), ("b", 2), ("c", 3)])
    assert cache.get_many(["a"]) == {"a": 1}  # "a" is now the most recent
    cache.put_many([("d", 4)])
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    assert len(cache) == 3


def test_threads_filling_it_at_once_keep_it_bounded_and_consistent():
    cache: LRU[int, int] = LRU(100)

    def work(offset: int) -> None:
        for start in range(0, 1000, 10):
            keys = [offset + start + i for i in range(10)]
            known = cache.get_many(keys)
            assert all(v == k * 2 for k, v in known.items())
            cache.put_many((k, k * 2) for k in keys if k not in known)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, [0, 0, 500, 500]))
    assert len(cache) == 100


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        LRU(0)
