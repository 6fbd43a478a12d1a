"""Helpers shared by the analyst commands (search, watchlist, report, forget, kibana)."""
from __future__ import annotations

from elasticsearch import Elasticsearch

from core.settings import Settings


def connect(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url, request_timeout=settings.es_request_timeout)


def split_values(values: tuple[str, ...]) -> tuple[str, ...]:
    """`--type complaint,question --type other` -> ("complaint", "question", "other")."""
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())
