"""Idempotent bulk indexing that never drops a document.

Every document is written with `_id` = mention id, so a replay or a retry after a
partial failure overwrites instead of duplicating. `write()` returns only when each
document is either indexed or permanently rejected (a 4xx such as a mapping
conflict, which the caller dead-letters). Transient trouble — Elasticsearch down,
429 Too Many Requests, 5xx — is retried with capped exponential backoff for as long
as it lasts: the caller's stream stalls and Kafka offsets are not committed, which
is the backpressure we want.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.exceptions import ApiError, TransportError
from elasticsearch.helpers import async_streaming_bulk

from core import metrics

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Rejected:
    doc_id: str
    status: int
    reason: str


@dataclass
class WriteResult:
    indexed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    attempts: int = 0


class BulkWriter:
    def __init__(
        self,
        client: AsyncElasticsearch,
        index: str | Callable[[Mapping[str, Any]], str],
        *,
        chunk_size: int = 500,
        max_chunk_bytes: int = 10 * 1024 * 1024,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep=asyncio.sleep,
    ):
        self.client = client
        # one index name, or a function of the document (e.g. its month: sinks/elasticsearch/lifecycle.py)
        self.index = index
        self._index_for = index if callable(index) else (lambda _doc: index)
        self.chunk_size = chunk_size
        self.max_chunk_bytes = max_chunk_bytes
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep

    def _backoff(self, attempt: int) -> float:
        capped = min(self.max_backoff, self.initial_backoff * 2 ** min(attempt, 16))
        return capped * random.uniform(0.5, 1.0)  # jitter: workers do not retry in lockstep

    async def write(self, docs: Sequence[tuple[str, dict[str, Any]]]) -> WriteResult:
        """Index `(doc_id, source)` pairs; returns when every one is indexed or rejected."""
        pending: dict[str, dict[str, Any]] = dict(docs)  # last one wins for a repeated id
        result = WriteResult()
        attempt = 0
        while pending:
            result.attempts += 1
            indexed_at = datetime.now(timezone.utc).isoformat()
            actions = [
                {"_op_type": "index", "_index": self._index_for(src), "_id": doc_id,
                 "_source": {**src, "indexed_at": indexed_at}}
                for doc_id, src in pending.items()
            ]
            transient: str | None = None
            try:
                async for ok, info in async_streaming_bulk(
                    self.client,
                    actions,
                    chunk_size=self.chunk_size,
                    max_chunk_bytes=self.max_chunk_bytes,
                    raise_on_error=False,
                    raise_on_exception=False,
                    max_retries=0,  # retries are ours: they must outlast any outage
                    yield_ok=True,
                ):
                    item = info.get("index", info)
                    doc_id = item.get("_id")
                    if ok:
                        pending.pop(doc_id, None)
                        result.indexed += 1
                        continue
                    status = int(item.get("status", 0))
                    if status in TRANSIENT_STATUSES:
                        transient = f"status {status}"
                        continue
                    pending.pop(doc_id, None)
                    result.rejected.append(Rejected(doc_id, status, _error_text(item.get("error"))))
            except (TransportError, ApiError, OSError) as exc:
                transient = f"{type(exc).__name__}: {exc}"
            if pending:
                delay = self._backoff(attempt)
                attempt += 1
                metrics.ES_BULK_RETRIES.inc()
                log.warning(
                    "elasticsearch write incomplete; retrying",
                    extra={"pending": len(pending), "attempt": attempt, "retry_in_s": round(delay, 2), "cause": transient},
                )
                await self._sleep(delay)
        metrics.ES_DOCS.labels(outcome="indexed").inc(result.indexed)
        metrics.ES_DOCS.labels(outcome="rejected").inc(len(result.rejected))
        return result


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return str(error)
