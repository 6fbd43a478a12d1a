"""Create the versioned index template and the first index behind the write alias."""
from __future__ import annotations

import logging

from elasticsearch import AsyncElasticsearch, BadRequestError

from sinks.elasticsearch.mapping import MAPPING_VERSION, index_template

log = logging.getLogger(__name__)


def index_name(prefix: str, version: int = MAPPING_VERSION) -> str:
    return f"{prefix}-v{version}"


async def ensure_index(client: AsyncElasticsearch, prefix: str) -> str:
    """Idempotent: put the template, create `<prefix>-v<N>` with alias `<prefix>` if absent."""
    await client.indices.put_index_template(name=prefix, **index_template(prefix))
    name = index_name(prefix)
    if not await client.indices.exists(index=name):
        try:
            await client.indices.create(index=name, aliases={prefix: {"is_write_index": True}})
            log.info("created index", extra={"index": name, "alias": prefix})
        except BadRequestError as exc:  # another worker created it first
            if exc.error != "resource_already_exists_exception":
                raise
    return name
