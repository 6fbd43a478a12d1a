"""Watchlists: named lists of customers and accounts (journalists, critics, VIPs, …) in Elasticsearch.

One document per list, `_id` = the list's name:
`{"name", "description", "customer_ids": [...], "handles": [...], "created_at", "updated_at"}`.

A member is either a customer id (`twitter:jdevries`, the `customer_id` of the mentions) or a
bare handle (`@jdevries`: that handle on any platform). Lists are used as a filter through a
*terms lookup*, so search, reports, Kibana's saved searches and alert rules always see the
current members without copying them: see `clause()`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from schemas import Source

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The lists every webcare team keeps (DESIGN.md); Kibana gets a saved search for each.
DEFAULT_LISTS = {
    "journalists": "Press and news outlets: answer fast, carefully, on the record.",
    "critics": "Chronic critics ('hoofdpijndossiers'): approach once, respectfully; follow the plan.",
    "vips": "Customers and accounts to treat with priority.",
}

MAPPING = {
    "dynamic": "strict",
    "properties": {
        "name": {"type": "keyword"},
        "description": {"type": "text"},
        "customer_ids": {"type": "keyword"},
        "handles": {"type": "keyword", "normalizer": "luister_lowercase"},
        "created_at": {"type": "date"},
        "updated_at": {"type": "date"},
    },
}
SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0,
            "analysis": {"normalizer": {"luister_lowercase": {"type": "custom", "filter": ["lowercase"]}}}}

# Updates are read-modify-write with optimistic concurrency (if_seq_no): no scripts, so they
# also work on a node without the painless module (the minimal local distribution).
MAX_CONFLICT_RETRIES = 10


@dataclass
class Members:
    customer_ids: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.customer_ids) + len(self.handles)


@dataclass
class Watchlist:
    name: str
    description: str
    members: Members
    updated_at: str | None = None


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"watchlist name {name!r}: use lowercase letters, digits, '-' or '_' (max 63)")
    return name


def parse_members(values: list[str]) -> Members:
    """`twitter:jdevries` / `customer:<id>` -> a customer id; `@jdevries` or `jdevries` -> a handle."""
    out = Members()
    sources = {s.value for s in Source}
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if value.startswith("customer:"):
            out.customer_ids.append(value.removeprefix("customer:"))
        elif ":" in value and value.split(":", 1)[0] in sources:
            source, handle = value.split(":", 1)
            out.customer_ids.append(f"{source}:{handle.strip().lstrip('@').lower()}")  # = schemas.customer_key
        elif ":" in value:
            out.customer_ids.append(value)  # a linked customer's own id
        else:
            out.handles.append(value.lstrip("@").lower())
    return out


def clause(index: str, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A query clause matching mentions by any member of any of the named lists (terms lookup)."""
    should = []
    for name in names:
        should.append({"terms": {"customer_id": {"index": index, "id": name, "path": "customer_ids"}}})
        should.append({"terms": {"author.handle": {"index": index, "id": name, "path": "handles"}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def members_clause(members: Members) -> dict[str, Any]:
    """The same filter with the members spelled out: for places where a terms lookup is not
    allowed (an aggregation's background filter, for one)."""
    return {"bool": {"should": [{"terms": {"customer_id": members.customer_ids}},
                                {"terms": {"author.handle": members.handles}}], "minimum_should_match": 1}}


def ensure(es: Elasticsearch, index: str) -> None:
    if not es.indices.exists(index=index):
        es.options(ignore_status=400).indices.create(index=index, settings=SETTINGS, mappings=MAPPING)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _update(es: Elasticsearch, index: str, name: str, change: Callable[[dict[str, Any]], dict[str, Any]],
            new: dict[str, Any] | None = None) -> bool:
    """Apply `change` to the list's document; create it from `new` when absent. False: no such list."""
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            current = es.get(index=index, id=name)
        except NotFoundError:
            if new is None:
                return False
            try:
                es.create(index=index, id=name, document=change(new), refresh=True)
                return True
            except ConflictError:
                continue  # created meanwhile: update it instead
        try:
            es.index(index=index, id=name, document=change(dict(current["_source"])), refresh=True,
                     if_seq_no=current["_seq_no"], if_primary_term=current["_primary_term"])
            return True
        except ConflictError:
            continue  # someone else changed it between our read and write: read again
    raise RuntimeError(f"watchlist {name!r} kept changing under us; try again")


def _with(members: Members, description: str | None):
    def change(src: dict[str, Any]) -> dict[str, Any]:
        src["customer_ids"] = sorted(set(src.get("customer_ids", [])) | set(members.customer_ids))
        src["handles"] = sorted(set(src.get("handles", [])) | set(members.handles))
        if description is not None:
            src["description"] = description
        src["updated_at"] = _now()
        return src
    return change


def _without(customer_ids: list[str], handles: list[str]):
    drop_ids, drop_handles = set(customer_ids), set(handles)

    def change(src: dict[str, Any]) -> dict[str, Any]:
        src["customer_ids"] = [m for m in src.get("customer_ids", []) if m not in drop_ids]
        src["handles"] = [m for m in src.get("handles", []) if m not in drop_handles]
        src["updated_at"] = _now()
        return src
    return change


def add(es: Elasticsearch, index: str, name: str, members: Members, description: str | None = None) -> Watchlist:
    check_name(name)
    ensure(es, index)
    now = _now()
    _update(es, index, name, _with(members, description),
            new={"name": name, "description": DEFAULT_LISTS.get(name, ""), "customer_ids": [], "handles": [],
                 "created_at": now, "updated_at": now})
    return get(es, index, name)


def remove(es: Elasticsearch, index: str, name: str, members: Members) -> Watchlist | None:
    if not es.indices.exists(index=index) or not _update(es, index, name,
                                                         _without(members.customer_ids, members.handles)):
        return None
    return get(es, index, name)


def delete(es: Elasticsearch, index: str, name: str) -> bool:
    resp = es.options(ignore_status=404).delete(index=index, id=name, refresh=True)
    return resp.get("result") == "deleted"


def get(es: Elasticsearch, index: str, name: str) -> Watchlist | None:
    try:
        src = es.get(index=index, id=name)["_source"]
    except NotFoundError:
        return None
    return Watchlist(src["name"], src.get("description") or "",
                     Members(sorted(src.get("customer_ids", [])), sorted(src.get("handles", []))),
                     src.get("updated_at"))


def all_lists(es: Elasticsearch, index: str) -> list[Watchlist]:
    if not es.indices.exists(index=index):
        return []
    hits = es.search(index=index, size=1000, sort=[{"name": "asc"}])["hits"]["hits"]
    return [Watchlist(h["_source"]["name"], h["_source"].get("description") or "",
                      Members(sorted(h["_source"].get("customer_ids", [])), sorted(h["_source"].get("handles", []))),
                      h["_source"].get("updated_at")) for h in hits]


def forget(es: Elasticsearch, index: str, customer_ids: list[str], handles: list[str]) -> int:
    """Remove customers (and their bare handles) from every list; returns the lists changed."""
    if not es.indices.exists(index=index):
        return 0
    handles = [h.lower() for h in handles]
    query = {"bool": {"should": [{"terms": {"customer_ids": customer_ids}}, {"terms": {"handles": handles}}],
                      "minimum_should_match": 1}}
    names = [h["_id"] for h in es.search(index=index, query=query, size=1000, source=False)["hits"]["hits"]]
    for name in names:
        _update(es, index, name, _without(customer_ids, handles))
    return len(names)
