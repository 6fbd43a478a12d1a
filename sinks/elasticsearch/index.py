"""Put the versioned index template and make sure the read alias exists (idempotent).

Documents go to monthly indices chosen from their own `created_at` (see lifecycle.py); this
creates the current month's index so the read alias `<prefix>` answers searches and counts
before the first document arrives.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from elasticsearch import AsyncElasticsearch, BadRequestError

from sinks.elasticsearch import lifecycle
from sinks.elasticsearch.mapping import MAPPING_VERSION, REFRESH_INTERVAL, index_template

log = logging.getLogger(__name__)


def index_name(prefix: str, version: int = MAPPING_VERSION, when: datetime | None = None) -> str:
    return lifecycle.monthly_index(prefix, version, when or datetime.now(timezone.utc))


async def ensure_index(client: AsyncElasticsearch, prefix: str, refresh_interval: str = REFRESH_INTERVAL) -> str:
    """Put template `<prefix>-v<N>` and create this month's index; returns that index's name."""
    await lifecycle.put_template(client, prefix, index_template(prefix, refresh_interval), read_alias=True)
    name = index_name(prefix)
    if not await client.indices.exists(index=name):
        try:
            await client.indices.create(index=name)  # the template adds the read alias
            log.info("created index", extra={"index": name, "alias": prefix})
        except BadRequestError as exc:  # another worker created it first
            if exc.error != "resource_already_exists_exception":
                raise
    indices = await lifecycle.family(client, prefix)
    current = [i.name for i in indices if i.version == MAPPING_VERSION]
    if current:  # fields added to this mapping version since those indices were made (additive only)
        properties = index_template(prefix, refresh_interval)["template"]["mappings"]["properties"]
        await client.indices.put_mapping(index=",".join(current), properties=properties)
    stale = [i.name for i in indices
             if i.in_read_alias and lifecycle.needs_migration(lifecycle.parse_index(prefix, i.name), MAPPING_VERSION)]
    if stale:
        log.warning("older mention indices are still in the read alias; run `luister indices migrate`",
                    extra={"alias": prefix, "indices": ",".join(stale)})
    return name


def ensure_mention_index(es_url: str, prefix: str, refresh_interval: str = REFRESH_INTERVAL) -> str:
    """`ensure_index` for blocking callers (the CLI's setup, the demo): its own client, closed after."""
    import asyncio

    async def run() -> str:
        async with AsyncElasticsearch(es_url) as client:
            return await ensure_index(client, prefix, refresh_interval)

    return asyncio.run(run())
