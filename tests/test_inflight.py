"""InOrderBatches: batches overlap, yet finish one at a time in the order they started."""
from __future__ import annotations

import asyncio

import pytest

from pipeline.inflight import InOrderBatches


def test_batches_finish_in_start_order_even_when_later_ones_complete_first():
    async def scenario():
        loop = asyncio.get_running_loop()
        finished: list[int] = []
        futures = {i: loop.create_future() for i in range(4)}

        async def finish(item):
            i, fut = item
            await fut
            finished.append(i)

        batches = InOrderBatches(2, finish)
        await batches.submit(lambda: (0, futures[0]))
        await batches.submit(lambda: (1, futures[1]))
        futures[1].set_result(None)  # the second batch's model call is done first
        await asyncio.sleep(0.01)
        assert finished == []  # batch 1 waits for batch 0
        futures[0].set_result(None)
        await batches.submit(lambda: (2, futures[2]))  # a slot frees once 0 and 1 are finished
        futures[2].set_result(None)
        await batches.drain()
        await batches.close()
        return finished

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_no_more_than_depth_batches_are_started_before_one_finishes():
    async def scenario():
        loop = asyncio.get_running_loop()
        release = loop.create_future()
        started: list[int] = []

        async def finish(item):
            await release

        batches = InOrderBatches(2, finish)

        async def feed():
            for i in range(5):
                await batches.submit(lambda i=i: started.append(i))

        feeder = asyncio.create_task(feed())
        await asyncio.sleep(0.05)
        in_flight_while_blocked = (list(started), batches.in_flight)
        release.set_result(None)
        await feeder
        await batches.drain()
        await batches.close()
        return in_flight_while_blocked, started

    (blocked, depth), started = asyncio.run(scenario())
    assert blocked == [0, 1] and depth == 2
    assert started == [0, 1, 2, 3, 4]


def test_a_failure_while_finishing_reaches_the_caller():
    async def scenario():
        async def finish(item):
            if item == "bad":
                raise ValueError("enrichment failed")

        batches = InOrderBatches(2, finish)
        await batches.submit(lambda: "bad")
        await asyncio.sleep(0.01)
        with pytest.raises(ValueError, match="enrichment failed"):
            await batches.submit(lambda: "next")
        await batches.close()

    asyncio.run(scenario())


def test_depth_must_be_positive():
    async def scenario():
        with pytest.raises(ValueError):
            InOrderBatches(0, lambda item: None)

    asyncio.run(scenario())


def test_a_failure_is_logged_at_once_even_if_nothing_else_is_submitted(caplog):
    async def scenario():
        async def finish(item):
            raise ValueError("model crashed")

        batches = InOrderBatches(2, finish)
        await batches.submit(lambda: "bad")
        await asyncio.sleep(0.01)
        await batches.close()

    with caplog.at_level("ERROR", logger="pipeline.inflight"):
        asyncio.run(scenario())
    assert any("finishing a batch failed" in r.getMessage() and r.exc_info for r in caplog.records)
