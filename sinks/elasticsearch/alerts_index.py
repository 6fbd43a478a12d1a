"""The alerts index: every version of every alert, so analysts can see how an episode went.

Documents are `Alert`s plus `version_id` and `indexed_at`, with `_id` = "<alert id>#<version>": an open,
each update and the resolve are separate documents (history kept), and a redelivery overwrites the
same one (idempotent). Write and read through the alias `es_alerts_index` (default `luister-alerts`);
the index behind it is `<alias>-v<N>`. `evidence` is stored, not indexed: its shape differs per kind.
"""
from __future__ import annotations

import logging
from typing import Any

from elasticsearch import AsyncElasticsearch, BadRequestError

from schemas import Alert

log = logging.getLogger(__name__)

ALERTS_MAPPING_VERSION = 1
KEYWORD = {"type": "keyword", "ignore_above": 512}
DATE = {"type": "date"}


def alert_properties() -> dict[str, Any]:
    return {
        "schema_version": {"type": "short"},
        "id": KEYWORD,
        "version_id": KEYWORD,
        "sequence": {"type": "integer"},
        "kind": KEYWORD,
        "status": KEYWORD,
        "brand": KEYWORD,
        "topic": KEYWORD,
        "severity": {"type": "byte"},
        "summary": {"type": "text", "fields": {"raw": KEYWORD}},
        "opened_at": DATE,
        "updated_at": DATE,
        "resolved_at": DATE,
        "mention_ids": KEYWORD,
        "evidence": {"type": "object", "enabled": False},
        "indexed_at": DATE,
    }


def alerts_template(alias: str) -> dict[str, Any]:
    return {
        "index_patterns": [f"{alias}-v{ALERTS_MAPPING_VERSION}*"],
        "priority": 100 + ALERTS_MAPPING_VERSION,
        "version": ALERTS_MAPPING_VERSION,
        "_meta": {"owner": "luister", "mapping_version": ALERTS_MAPPING_VERSION},
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            "mappings": {"dynamic": "strict", "properties": alert_properties()},
        },
    }


def alerts_index_name(alias: str) -> str:
    return f"{alias}-v{ALERTS_MAPPING_VERSION}"


async def ensure_alerts_index(client: AsyncElasticsearch, alias: str) -> str:
    """Idempotent: template `<alias>-v<N>`, index `<alias>-v<N>` with write alias `<alias>`."""
    await client.indices.put_index_template(name=alerts_index_name(alias), **alerts_template(alias))
    name = alerts_index_name(alias)
    if not await client.indices.exists(index=name):
        try:
            await client.indices.create(index=name, aliases={alias: {"is_write_index": True}})
            log.info("created alerts index", extra={"index": name, "alias": alias})
        except BadRequestError as exc:  # another process created it first
            if exc.error != "resource_already_exists_exception":
                raise
    return name


def alert_document(alert: Alert) -> tuple[str, dict[str, Any]]:
    doc = alert.model_dump(mode="json")
    doc["version_id"] = alert.version_id
    return alert.version_id, doc
