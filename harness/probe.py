"""When did each mention become searchable? Poll Elasticsearch and note the first time a search returns it."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from elasticsearch import Elasticsearch


class SearchableProbe(threading.Thread):
    """Polls Elasticsearch and notes, per mention id, seconds from `ingested_at` to first seen."""

    def __init__(self, es: Elasticsearch, index: str, since: datetime, interval: float = 0.2):
        super().__init__(daemon=True)
        self.es, self.index, self.since, self.interval = es, index, since, interval
        self.latency_s: dict[str, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.poll()
            self._stop_event.wait(self.interval)

    def poll(self) -> None:
        try:
            resp = self.es.search(
                index=self.index, size=10_000, source=["id", "ingested_at"],
                query={"range": {"ingested_at": {"gte": self.since.isoformat()}}},
            )
        except Exception:  # noqa: BLE001 - the node may be busy; the next poll catches up
            return
        seen_at = datetime.now(timezone.utc)
        for hit in resp["hits"]["hits"]:
            doc_id = hit["_id"]
            if doc_id not in self.latency_s:
                ingested = datetime.fromisoformat(hit["_source"]["ingested_at"])
                self.latency_s[doc_id] = (seen_at - ingested).total_seconds()

    def stop(self) -> None:
        self._stop_event.set()
