"""The stages' one way to wait for Elasticsearch: `core.retry.until_ready` with the es_retry_* settings."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.retry import until_ready
from pipeline.app import settings

T = TypeVar("T")


async def until_elasticsearch(attempt: Callable[[], Awaitable[T]], *, what: str, log: logging.Logger,
                              **kwargs) -> T:
    """Await `attempt()` until it succeeds, backing off from es_retry_initial_seconds to es_retry_max_seconds."""
    return await until_ready(attempt, what=what, log=log, initial=settings.es_retry_initial_seconds,
                             maximum=settings.es_retry_max_seconds, **kwargs)
