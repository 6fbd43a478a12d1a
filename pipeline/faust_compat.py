"""Every place Luister reaches inside Faust, in one module.

faust-streaming gives no public way to do what these functions do; each one names the
private attribute it relies on and why we need it. `check_version()` refuses to start on a
Faust outside the range this was written and tested for, and tests/test_faust_compat.py
fails when an upgrade changes what is relied on here, so an upgrade is a deliberate step.
"""
from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import faust
from aiokafka.structs import TopicPartition
from faust.streams import _current_event  # the context variable behind faust.current_event()
from faust.transport.drivers import aiokafka as faust_aiokafka

#: faust-streaming releases this module was written for: [lowest, first unsupported)
SUPPORTED_FAUST = ((0, 15, 3), (0, 16, 0))

#: Faust's aiokafka consumer and transport: our consumer (pipeline/consumer.py) subclasses them
AIOKafkaConsumer = faust_aiokafka.Consumer
AIOKafkaTransport = faust_aiokafka.Transport


class UnsupportedFaust(RuntimeError):
    pass


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_version(version: str | None = None) -> None:
    """Raise UnsupportedFaust, naming the supported range, when Faust is outside it."""
    found = version or faust.__version__
    low, high = SUPPORTED_FAUST
    if not low <= _version_tuple(found) < high:
        raise UnsupportedFaust(
            f"faust-streaming {found} is not supported: Luister relies on Faust internals "
            f"(pipeline/faust_compat.py) checked for >={'.'.join(map(str, low))},<{'.'.join(map(str, high))}; "
            "install a supported release or re-check that module and its tests first")


class AppWithTransport(faust.App):
    """A Faust app whose Kafka transport is `transport_class` (Faust has no setting for it)."""

    transport_class: type = AIOKafkaTransport

    def _new_transport(self):  # private: Faust builds its transport here
        return self.transport_class(self.conf.broker_consumer, self)


@contextmanager
def as_current(event) -> Iterator[None]:
    """Make `event` Faust's current event (`faust.current_event()`) for the block.

    Faust writes a table key into the store and changelog partition of the current event, which
    an agent taking a batch (`take_events`) does not set; each key is written with its own event
    made current, exactly as when the agent handles one event at a time."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def committed_offsets(consumer: AIOKafkaConsumer) -> dict:
    """The offsets the consumer just sought its partitions to after a rebalance (TP -> offset)."""
    return dict(consumer._committed_offset)


async def committed_and_earliest(consumer: AIOKafkaConsumer, tp) -> tuple[int | None, int | None]:
    """The group's committed offset and the earliest offset Kafka still holds for `tp`, asked on the
    consumer's own thread (aiokafka's consumer is not ours to call from the event loop's side)."""
    thread = consumer._thread
    client = thread._ensure_consumer()
    partition = TopicPartition(tp.topic, tp.partition)
    committed = await thread.call_thread(client.committed, partition)
    earliest = (await thread.earliest_offsets(partition)).get(partition)
    return committed, earliest


async def wait_for_partitions(app: faust.App, topic: str) -> None:
    """Wait until the producer's metadata knows `topic`. A table with `use_partitioner` picks the
    changelog partition of a write from that metadata synchronously, and raises (TypeError on None)
    when it does not know the topic yet: seen as two crashes of crisis_detect right after start-up,
    its first batch arriving before the changelog topic's metadata."""
    await app.producer._ensure_producer().partitions_for(topic)


def not_fetching(consumer: Any) -> dict[str, set]:
    """Partitions the consumer has paused, and those held back because a stream's buffer is full."""
    return {"paused": set(getattr(consumer, "_paused_partitions", ())),
            "buffered": set(getattr(consumer, "_buffered_partitions", ()))}


def on_agent_error(agent: Any, hook: Callable[[Any, BaseException], Awaitable[None]]) -> bool:
    """Call `hook(agent, exc)` when the agent crashes, then Faust's own handler (it tells the consumer).

    Faust keeps that handler in a private attribute and has no signal for agent crashes. Idempotent:
    returns False when the agent is already hooked."""
    previous = agent._on_error
    if getattr(previous, "luister_hooked", False):
        return False

    async def on_error(agent: Any, exc: BaseException, _previous: Any = previous) -> None:
        await hook(agent, exc)
        if _previous is not None:
            await _previous(agent, exc)

    on_error.luister_hooked = True  # type: ignore[attr-defined]
    agent._on_error = on_error
    return True
