"""Deleted mentions in Elasticsearch: the record of each deletion (id, source, reason, times; never
content) and the removal of the mention from every monthly index, read in real time (by id, no
refresh), so a deletion that arrives before or while its mention is indexed still wins."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from elasticsearch import AsyncElasticsearch

from schemas import MentionDeletion

DELETIONS_MAPPING = {
    "dynamic": "strict",
    "properties": {"id": {"type": "keyword"}, "source": {"type": "keyword"}, "reason": {"type": "keyword"},
                   "deleted_at": {"type": "date"}, "recorded_at": {"type": "date"}},
}


async def ensure_deletions_index(client: AsyncElasticsearch, index: str) -> None:
    if not await client.indices.exists(index=index):
        await client.options(ignore_status=400).indices.create(
            index=index, mappings=DELETIONS_MAPPING, settings={"number_of_shards": 1, "number_of_replicas": 0})


async def record_deletions(client: AsyncElasticsearch, index: str, deletions: Sequence[MentionDeletion]) -> None:
    """One document per deleted mention (_id = mention id: idempotent). Raises if any write failed."""
    now = datetime.now(timezone.utc).isoformat()
    operations: list[dict] = []
    for d in deletions:
        operations += [{"index": {"_index": index, "_id": d.id}},
                       {"id": d.id, "source": d.source.value, "reason": d.reason,
                        "deleted_at": d.deleted_at.isoformat(), "recorded_at": now}]
    if operations:
        response = await client.bulk(operations=operations)
        if response["errors"]:
            raise RuntimeError(f"recording deletions failed: {_first_error(response)}")


async def deleted_ids(client: AsyncElasticsearch, index: str, ids: Iterable[str]) -> set[str]:
    """Which of these mention ids were deleted (real-time get: no refresh needed)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return set()
    response = await client.options(ignore_status=404).mget(index=index, ids=wanted, source=False)
    return {doc["_id"] for doc in (response.body or {}).get("docs", []) if doc.get("found")}


async def remove_mentions(client: AsyncElasticsearch, prefix: str, ids: Sequence[str]) -> dict[str, str]:
    """Delete these mentions from every monthly index of `prefix`; returns {mention id: customer_id}
    of those that were found (their customers' histories lose them too)."""
    if not ids:
        return {}
    indices = list((await client.options(ignore_status=404).indices.get(
        index=f"{prefix}-v*", expand_wildcards="open")).body)
    if not indices:
        return {}
    response = await client.mget(docs=[{"_index": i, "_id": m, "_source": ["customer_id"]}
                                       for m in ids for i in indices])
    found = [(doc["_index"], doc["_id"], (doc.get("_source") or {}).get("customer_id", ""))
             for doc in response["docs"] if doc.get("found")]
    if found:
        result = await client.bulk(operations=[{"delete": {"_index": i, "_id": m}} for i, m, _ in found])
        failed = [item["delete"] for item in result["items"] if item["delete"].get("status") not in (200, 404)]
        if failed:
            raise RuntimeError(f"deleting mentions failed: {failed[0]}")
    return {m: customer for _, m, customer in found}


def _first_error(response) -> str:
    for item in response["items"]:
        for result in item.values():
            if result.get("error"):
                return str(result["error"])[:300]
    return "unknown"
