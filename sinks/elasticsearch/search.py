"""Mention search on the Elasticsearch query DSL: full text in Dutch and English, exact filters
from the mapping's field list, watchlists, highlighting and facet aggregations.

`build_body()` is pure (request in, DSL out); `run()` sends it and shapes the answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from sinks.elasticsearch import watchlists
from sinks.elasticsearch.fields import NUMERIC_TYPES, filterable, mention_fields, reply_fields

TEXT_FIELDS = ["text", "text.nl", "text.en"]  # standard, Dutch-stemmed, English-stemmed
DEFAULT_FACETS = ("type", "sentiment", "persona", "severity", "source", "channel", "brand", "language")
HIGHLIGHT_TAGS = ("<em>", "</em>")


@dataclass(frozen=True)
class SearchRequest:
    text: str | None = None
    # field -> accepted values (OR within a field, AND across fields), e.g. {"type": ("complaint",)}
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    severity: str | None = None  # "2" exactly, "2+" at least, "1-2" a range
    since: str | None = None  # a date, a month ("2026-10"), or date math ("now-7d/d")
    until: str | None = None  # exclusive
    time_zone: str = "UTC"  # for dates given without a zone
    watchlists: tuple[str, ...] = ()
    should_respond: bool | None = None
    overdue: bool = False
    has: tuple[str, ...] = ()  # fields that must exist (e.g. repeated_negativity)
    size: int = 20
    sort: str = "auto"  # auto (relevance with text, else newest), newest, oldest, severity
    facets: tuple[str, ...] = ()
    facet_size: int = 10


class SearchError(ValueError):
    pass


def _check_field(name: str, fields: dict[str, str], *, exact: bool = True) -> None:
    if name not in fields:
        raise SearchError(f"unknown field {name!r}; the mapping has: {', '.join(sorted(fields))}")
    if exact and name not in filterable(fields):
        raise SearchError(f"field {name!r} ({fields[name]}) cannot be filtered exactly")


def _coerce(value: str, kind: str) -> Any:
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise SearchError(f"expected true or false, got {value!r}")
        return value.lower() == "true"
    if kind in NUMERIC_TYPES:
        try:
            return float(value) if kind in ("float", "double") else int(value)
        except ValueError as exc:
            raise SearchError(f"expected a number, got {value!r}") from exc
    return value


def severity_clause(spec: str) -> dict[str, Any]:
    spec = spec.strip()
    try:
        if spec.endswith("+"):
            return {"range": {"severity": {"gte": int(spec[:-1])}}}
        if "-" in spec:
            low, high = spec.split("-", 1)
            return {"range": {"severity": {"gte": int(low), "lte": int(high)}}}
        return {"term": {"severity": int(spec)}}
    except ValueError as exc:
        raise SearchError(f"severity {spec!r}: use N, N+ or N-M (0..3)") from exc


def _is_month(value: str) -> bool:
    return len(value) == 7 and value[4] == "-" and value[:4].isdigit() and value[5:].isdigit()


def date_from(value: str) -> str:
    """A month `2026-10` becomes its first day; anything else goes to Elasticsearch as is."""
    return f"{value}-01" if _is_month(value) else value


def date_until(value: str) -> str:
    """A month given as the (exclusive) end includes the whole month."""
    return f"{value}-01||+1M" if _is_month(value) else value


def overdue_clause(fields: dict[str, str]) -> dict[str, Any]:
    """Should be answered, the deadline passed, and (when reply data exists) not answered."""
    must_not = [{"exists": {"field": f}} for f in reply_fields(fields)]
    return {"bool": {"filter": [{"term": {"should_respond": True}}, {"range": {"respond_by": {"lt": "now"}}}],
                     "must_not": must_not}}


def filters(req: SearchRequest, *, watchlist_index: str, fields: dict[str, str] | None = None) -> list[dict]:
    """The filter clauses of a request (they do not score)."""
    fields = fields or mention_fields()
    out: list[dict] = []
    for name, values in req.terms.items():
        if not values:
            continue
        _check_field(name, fields)
        coerced = [_coerce(v, fields[name]) for v in values]
        out.append({"terms": {name: coerced}} if len(coerced) > 1 else {"term": {name: coerced[0]}})
    if req.severity:
        out.append(severity_clause(req.severity))
    if req.since or req.until:
        rng: dict[str, Any] = {"time_zone": req.time_zone}
        if req.since:
            rng["gte"] = date_from(req.since)
        if req.until:
            rng["lt"] = date_until(req.until)
        out.append({"range": {"created_at": rng}})
    if req.watchlists:
        out.append(watchlists.clause(watchlist_index, req.watchlists))
    if req.should_respond is not None:
        out.append({"term": {"should_respond": req.should_respond}})
    if req.overdue:
        out.append(overdue_clause(fields))
    for name in req.has:
        _check_field(name, fields, exact=False)
        out.append({"exists": {"field": name}})
    return out


def build_body(req: SearchRequest, *, watchlist_index: str) -> dict[str, Any]:
    fields = mention_fields()
    must: list[dict] = []
    if req.text:
        # every word must match in the plain, the Dutch-stemmed or the English-stemmed text;
        # the syntax takes "phrases", -exclusions, OR (|) and prefix*
        must.append({"simple_query_string": {"query": req.text, "fields": TEXT_FIELDS, "default_operator": "and"}})
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}],
                           "filter": filters(req, watchlist_index=watchlist_index, fields=fields)}},
        "size": req.size,
        "track_total_hits": True,
        "_source": {"excludes": ["raw"]},
    }
    sort = req.sort
    if sort == "auto":
        sort = "relevance" if req.text else "newest"
    body["sort"] = {
        "relevance": ["_score", {"created_at": "desc"}],
        "newest": [{"created_at": "desc"}],
        "oldest": [{"created_at": "asc"}],
        "severity": [{"severity": "desc"}, {"created_at": "desc"}],
    }[sort]
    if req.text:
        body["highlight"] = {"pre_tags": [HIGHLIGHT_TAGS[0]], "post_tags": [HIGHLIGHT_TAGS[1]],
                             "fields": {f: {"number_of_fragments": 0} for f in TEXT_FIELDS}}
    if req.facets:
        aggs = {}
        for name in req.facets:
            _check_field(name, fields)
            aggs[name] = {"terms": {"field": name, "size": req.facet_size, "missing": "(none)"}
                          if fields[name] == "keyword" else {"field": name, "size": req.facet_size}}
        body["aggs"] = aggs
    return body


@dataclass
class Hit:
    id: str
    index: str
    score: float | None
    source: dict[str, Any]
    highlight: str | None  # the text with matches marked, when a text query was given


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]


def run(es: Elasticsearch, index: str, req: SearchRequest, *, watchlist_index: str) -> SearchResult:
    for name in req.watchlists:
        if watchlists.get(es, watchlist_index, name) is None:
            raise SearchError(f"no watchlist named {name!r} (see `luister watchlist show`)")
    resp = es.search(index=index, **build_body(req, watchlist_index=watchlist_index))
    hits = []
    for h in resp["hits"]["hits"]:
        marked = next((h["highlight"][f][0] for f in TEXT_FIELDS if f in h.get("highlight", {})), None)
        hits.append(Hit(h["_id"], h["_index"], h.get("_score"), h["_source"], marked))
    aggs = resp.get("aggregations", {})
    facets = {name: [(str(b.get("key_as_string", b["key"])), b["doc_count"]) for b in aggs[name]["buckets"]]
              for name in req.facets if name in aggs}  # in the order asked
    return SearchResult(resp["hits"]["total"]["value"], hits, facets)
