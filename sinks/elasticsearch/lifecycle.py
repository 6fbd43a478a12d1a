"""Monthly, versioned mention indices behind one read alias — and moving them to a new mapping.

Layout for prefix `luister-mentions` and mapping version N:

* template `luister-mentions-vN` (pattern `luister-mentions-vN-*`, priority 100+N) gives every
  new index the mapping and the read alias `luister-mentions`, so a new month joins by itself;
* one index per month of the mention's own `created_at` (event time, UTC):
  `luister-mentions-vN-2026.10`. A replay writes the same id into the same index, so it
  overwrites instead of duplicating — a rollover alias would not (it writes to "the current"
  index, which changes over time).

`migrate()` moves everything not in the current layout (older versions, or the pre-monthly
`luister-mentions-v1`) into `…-vN-<month>` indices with a copy per source month, checks
the counts, then switches the read alias in one atomic request. Old indices are kept, out of
the alias, unless asked to delete them.
"""
from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_scan, async_streaming_bulk

from sinks.elasticsearch.mapping import index_template

log = logging.getLogger(__name__)

UNDATED = "undated"  # month suffix of documents without a usable created_at (never from the pipeline)
# How far before the migration's start the catch-up pass looks for late writes of old workers.
CATCH_UP_MARGIN = timedelta(minutes=5)


# ------------------------------------------------------------------ names (pure)

def template_name(prefix: str, version: int) -> str:
    return f"{prefix}-v{version}"


def month_suffix(created_at: Any) -> str:
    """`2026.10` for a datetime or ISO-8601 string (converted to UTC); `undated` otherwise."""
    when = created_at
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return UNDATED
    if not isinstance(when, datetime):
        return UNDATED
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y.%m")


def monthly_index(prefix: str, version: int, created_at: Any) -> str:
    return f"{prefix}-v{version}-{month_suffix(created_at)}"


def monthly_router(prefix: str, version: int) -> Callable[[Mapping[str, Any]], str]:
    """For BulkWriter: the index of a document is chosen from its own `created_at`."""
    def route(doc: Mapping[str, Any]) -> str:
        return monthly_index(prefix, version, doc.get("created_at"))
    return route


@dataclass(frozen=True)
class IndexName:
    name: str
    version: int
    month: str | None  # None: the pre-monthly layout `<prefix>-v<N>`


def parse_index(prefix: str, name: str) -> IndexName | None:
    """Recognise a mention index of this prefix; None for anything else (watchlists, audit…)."""
    m = re.fullmatch(re.escape(prefix) + r"-v(\d+)(?:-(\d{4}\.\d{2}|" + UNDATED + r"))?", name)
    if not m:
        return None
    return IndexName(name, int(m.group(1)), m.group(2))


def needs_migration(idx: IndexName, version: int) -> bool:
    return idx.version != version or idx.month is None


def versioned_template(template: Mapping[str, Any], prefix: str, *, read_alias: bool) -> dict[str, Any]:
    """The template as put: with or without the read alias (without while a migration copies)."""
    body = copy.deepcopy(dict(template))
    aliases = body.setdefault("template", {}).setdefault("aliases", {})
    if read_alias:
        aliases[prefix] = {}
    else:
        aliases.pop(prefix, None)
    return body


def month_range(month: str) -> dict[str, Any]:
    """Range query on created_at for one `YYYY.MM` month in UTC."""
    start = datetime.strptime(month, "%Y.%m").replace(tzinfo=timezone.utc)
    end = (start + timedelta(days=32)).replace(day=1)
    return {"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}}


def month_query(month: str) -> dict[str, Any]:
    """The documents of one month suffix (`undated`: those without created_at)."""
    if month == UNDATED:
        return {"bool": {"must_not": {"exists": {"field": "created_at"}}}}
    return month_range(month)


# ------------------------------------------------------------------ Elasticsearch I/O

async def put_template(client: AsyncElasticsearch, prefix: str, template: Mapping[str, Any] | None = None, *,
                       read_alias: bool = True) -> str:
    template = template or index_template(prefix)
    name = template_name(prefix, int(template["version"]))
    await client.indices.put_index_template(name=name, **versioned_template(template, prefix, read_alias=read_alias))
    return name


@dataclass
class IndexInfo:
    name: str
    version: int
    month: str | None
    docs: int
    size_bytes: int
    in_read_alias: bool


async def family(client: AsyncElasticsearch, prefix: str) -> list[IndexInfo]:
    """Every mention index of this prefix, with doc counts and alias membership, sorted by name."""
    found = await client.indices.get(index=f"{prefix}-v*", expand_wildcards="open")  # {} when none
    names = {n: body for n, body in found.body.items() if parse_index(prefix, n)}
    if not names:
        return []
    stats = await client.indices.stats(index=",".join(names), metric="docs,store")
    out = []
    for name, body in sorted(names.items()):
        parsed = parse_index(prefix, name)
        primaries = stats["indices"].get(name, {}).get("primaries", {})
        out.append(IndexInfo(name, parsed.version, parsed.month, primaries.get("docs", {}).get("count", 0),
                             primaries.get("store", {}).get("size_in_bytes", 0), prefix in body.get("aliases", {})))
    return out


@dataclass
class MigrationReport:
    version: int
    sources: list[str] = field(default_factory=list)
    copied: dict[str, int] = field(default_factory=dict)  # destination index -> documents created
    already_there: int = 0  # ids the destination had already (written by an upgraded worker)
    caught_up: int = 0
    deleted: list[str] = field(default_factory=list)


class MigrationError(RuntimeError):
    pass


async def _months(client: AsyncElasticsearch, index: str) -> dict[str, int]:
    resp = await client.search(index=index, size=0, aggs={
        "months": {"date_histogram": {"field": "created_at", "calendar_interval": "month", "time_zone": "UTC",
                                      "format": "yyyy.MM", "min_doc_count": 1}},
        "undated": {"missing": {"field": "created_at"}},
    })
    months = {b["key_as_string"]: b["doc_count"] for b in resp["aggregations"]["months"]["buckets"]}
    if resp["aggregations"]["undated"]["doc_count"]:
        months[UNDATED] = resp["aggregations"]["undated"]["doc_count"]
    return months


async def _copy(client: AsyncElasticsearch, source: str, dest: str, query: dict) -> tuple[int, int]:
    """Copy matching documents with op_type=create; returns (created, already there).

    Client-side (scroll + bulk) rather than `_reindex`, which needs the reindex module: this
    works on any node, the minimal local distribution included.
    """
    async def actions():
        async for hit in async_scan(client, index=source, query={"query": query}, size=1000):
            yield {"_op_type": "create", "_index": dest, "_id": hit["_id"], "_source": hit["_source"]}

    created = conflicts = 0
    async for ok, info in async_streaming_bulk(client, actions(), chunk_size=500, max_retries=8,
                                               raise_on_error=False, raise_on_exception=False, yield_ok=True):
        item = info.get("create", info)
        if ok:
            created += 1
        elif item.get("status") == 409:  # the destination has it already: keep that (newer) copy
            conflicts += 1
        else:
            raise MigrationError(f"copy {source} -> {dest} failed for {item.get('_id')}: {item.get('error')}")
    await client.indices.refresh(index=dest)
    return created, conflicts


async def migrate(client: AsyncElasticsearch, prefix: str, template: Mapping[str, Any] | None = None, *,
                  delete_old: bool = False, progress: Callable[[str], None] = lambda _: None) -> MigrationReport:
    """Move every mention index not in the current layout into `<prefix>-v<N>-<month>`.

    Safe to run again: copies use op_type=create, so a document the new layout already has
    (from an upgraded worker, or an earlier run) is kept as it is and counted as already there.
    The old indices are kept out of the read alias; `delete_old` deletes them (also those an
    earlier run kept) after the copy.
    """
    template = template or index_template(prefix)
    version = int(template["version"])
    report = MigrationReport(version)
    started = datetime.now(timezone.utc)
    # Destination indices stay out of the read alias while being filled: no double counts meanwhile.
    await put_template(client, prefix, template, read_alias=False)
    # Old indices a finished migration left out of the alias are done, unless they are to be deleted
    # now: then they are copied once more (a no-op for what is there) so nothing goes with them.
    sources = [i for i in await family(client, prefix)
               if needs_migration(parse_index(prefix, i.name), version) and (i.in_read_alias or delete_old)]
    report.sources = [s.name for s in sources]
    if not sources:
        progress(f"nothing to migrate: every index is v{version} and monthly")
        await put_template(client, prefix, template, read_alias=True)
        return report

    for src in sources:
        await client.indices.refresh(index=src.name)
        months = await _months(client, src.name)
        progress(f"{src.name}: {src.docs} documents in {len(months)} month(s)")
        for month, expected in sorted(months.items()):
            dest = f"{prefix}-v{version}-{month}"
            created, conflicts = await _copy(client, src.name, dest, month_query(month))
            if created + conflicts < expected:
                raise MigrationError(f"{src.name} {month}: expected {expected} documents, the copy created "
                                     f"{created} and found {conflicts} already there; nothing was switched")
            report.copied[dest] = report.copied.get(dest, 0) + created
            report.already_there += conflicts
            progress(f"  {month}: {created} copied to {dest}" + (f", {conflicts} already there" if conflicts else ""))

    # one atomic switch: every current-layout index (the copies, and what upgraded workers made) in, old ones out
    current = [i.name for i in await family(client, prefix) if i.version == version and i.month]
    await client.indices.update_aliases(actions=[{"add": {"index": name, "alias": prefix}} for name in current] +
                                        [{"remove": {"index": s.name, "alias": prefix}}
                                         for s in sources if s.in_read_alias])
    await put_template(client, prefix, template, read_alias=True)
    progress(f"read alias {prefix} now covers {len(current)} v{version} index(es)")

    # Late writes of workers still on the old version while we copied: copy them too.
    since = (started - CATCH_UP_MARGIN).isoformat()
    for src in sources:
        await client.indices.refresh(index=src.name)
        months = await _months(client, src.name)
        for month in months:
            query = {"bool": {"filter": [{"range": {"indexed_at": {"gte": since}}}, month_query(month)]}}
            created, _ = await _copy(client, src.name, f"{prefix}-v{version}-{month}", query)
            report.caught_up += created
    if report.caught_up:
        progress(f"caught up {report.caught_up} document(s) written to the old indices during the copy")

    if delete_old:
        await client.indices.delete(index=",".join(s.name for s in sources))
        report.deleted = [s.name for s in sources]
        progress(f"deleted {', '.join(report.deleted)}")
    log.info("migrated mention indices", extra={"prefix": prefix, "version": version, "sources": len(sources),
                                                "copied": sum(report.copied.values()),
                                                "already_there": report.already_there})
    return report
