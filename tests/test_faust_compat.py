"""Contract tests for pipeline/faust_compat.py: each one fails when a Faust upgrade moves or
changes a private piece Luister relies on, before a worker meets it in production."""
from __future__ import annotations

import asyncio
import inspect
import weakref

import faust
import pytest
from faust.streams import _current_event
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline import faust_compat


def test_the_installed_faust_is_supported():
    faust_compat.check_version()  # raises on an unsupported release


@pytest.mark.parametrize("version", ["0.15.2", "0.16.0", "1.0.0"])
def test_an_unsupported_faust_is_refused_with_the_supported_range(version):
    with pytest.raises(faust_compat.UnsupportedFaust) as err:
        faust_compat.check_version(version)
    assert version in str(err.value) and ">=0.15.3,<0.16.0" in str(err.value)


def test_the_current_event_is_a_context_variable_holding_a_weak_reference():
    class Event:  # any weak-referenceable object stands in for a Faust event
        pass

    event = Event()
    assert faust.current_event() is None
    with faust_compat.as_current(event):
        assert faust.current_event() is event
        assert isinstance(_current_event.get(), weakref.ref)
    assert faust.current_event() is None


def test_the_app_builds_its_transport_in_new_transport():
    assert "_new_transport" in vars(faust.App)
    assert list(inspect.signature(faust.App._new_transport).parameters) == ["self"]
    app = type("App", (faust_compat.AppWithTransport,), {"transport_class": faust_aiokafka.Transport})(
        "compat-test", broker="kafka://127.0.0.1:1")
    assert isinstance(app._new_transport(), faust_aiokafka.Transport)


def test_the_consumer_keeps_committed_offsets_and_its_thread():
    consumer_init = inspect.getsource(faust.transport.consumer.Consumer.__init__)
    assert "self._committed_offset" in consumer_init
    assert {"_paused_partitions", "_buffered_partitions"} <= set(faust.transport.consumer.Consumer.__annotations__)
    thread = faust_aiokafka.AIOKafkaConsumerThread
    for name in ("_ensure_consumer", "call_thread", "earliest_offsets"):
        assert callable(getattr(thread, name, None)), name
    assert "_thread" in inspect.getsource(faust_aiokafka.Consumer)
    for name in ("perform_seek", "seek", "getmany"):  # what pipeline/consumer.py overrides
        assert callable(getattr(faust_aiokafka.Consumer, name, None)), name


def test_committed_offsets_reads_the_consumer_s_dict():
    consumer = type("C", (), {"_committed_offset": {"tp": 5}})()
    assert faust_compat.committed_offsets(consumer) == {"tp": 5}


def test_the_agent_error_hook_chains_to_faust_s_handler_once():
    app = faust.App("compat-agents", broker="kafka://127.0.0.1:1")

    @app.agent()
    async def stage(stream):  # pragma: no cover - never started
        async for _ in stream:
            pass

    agent = app.agents[stage.name]
    calls: list[str] = []

    async def faust_handler(agent, exc):
        calls.append(f"faust {exc}")

    agent._on_error = faust_handler  # what Faust's supervisor sets: a coroutine function (agent, exc)

    async def hook(agent, exc):
        calls.append(f"ours {exc}")

    assert faust_compat.on_agent_error(agent, hook) is True
    assert faust_compat.on_agent_error(agent, hook) is False  # already hooked: not twice
    asyncio.run(agent._on_error(agent, RuntimeError("boom")))
    assert calls == ["ours boom", "faust boom"]
    assert "_on_error" in inspect.getsource(type(agent))


def test_the_producer_gives_its_aiokafka_producer_and_that_waits_for_metadata():
    import aiokafka

    assert callable(getattr(faust_aiokafka.Producer, "_ensure_producer", None))
    assert "_ensure_producer" in inspect.getsource(faust_aiokafka.Producer.key_partition)  # the sync path
    assert inspect.iscoroutinefunction(aiokafka.AIOKafkaProducer.partitions_for)
