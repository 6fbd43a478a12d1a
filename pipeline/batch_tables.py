"""Write a Faust table from an agent that takes a batch of events.

Faust puts a table key into the store and the changelog partition of the *current event*
(`faust.current_event()`), which an agent using `take_events` does not set (and which would
be one event for the whole batch). `as_current(event)` makes `event` the current one for
the reads and writes of its own key, so each key lands in its own partition, exactly as
when the agent handles one event at a time.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from faust.streams import _current_event  # the context variable behind faust.current_event()


@contextmanager
def as_current(event) -> Iterator[None]:
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
