"""Everything the monthly report shows, gathered with a few aggregation requests.

`collect()` does the I/O; the shaping functions are pure so the report's numbers can be
tested without a cluster. Sections whose data does not exist yet (no personas, no reply
data, no alerts index) come back as None or empty, and the page says "no data yet".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch

from sinks.elasticsearch import watchlists
from sinks.elasticsearch.fields import mention_fields, reply_fields
from sinks.elasticsearch.search import date_from, date_until, overdue_clause

TYPES = ["complaint", "question", "suggestion", "compliment", "other"]
SENTIMENTS = ["negative", "neutral", "positive"]
HISTORY_MONTHS = 12
REPEAT_MIN = 2  # negative mentions in the month that make a "repeated negativity" customer
# Words too common to say what complaints are about (Dutch and English).
STOPWORDS = sorted(set("""
de het een en van in op is dat die niet met voor zijn te er maar ook al nog dan als bij naar om was of wat ze
je jij ik mijn me mij we wij ons u uw hij zij hun dit deze daar hier heb heeft hebben wordt worden kan kunnen
moet weer wel geen meer echt zo nu toch even gewoon alweer keer dag dagen
the a an and of in on is that it not with for are be to at as by from or what this was have has had my me i we
you your our they their but so just still again no yes do does did can could would should will been get got
here there about after before when where which who why how all any some very really than then them its into
http https www com
""".split()))


@dataclass
class Customer:
    customer_id: str
    negatives: int
    sources: list[str]
    channels: list[str]
    flagged: int  # mentions the pipeline labelled repeated_negativity
    last_at: str | None


@dataclass
class Response:
    should_respond: int
    reply_data: bool
    answered: int | None
    overdue: int
    open: int


@dataclass
class ReportData:
    brand: str
    month: str  # YYYY-MM
    time_zone: str
    generated_at: datetime
    watchlist: str | None
    total: int
    by_type: dict[str, int]
    by_sentiment: dict[str, int]
    by_source: dict[str, dict[str, int]]  # source -> channel -> count
    days: list[str]
    daily_types: dict[str, list[int]]  # type -> count per day
    daily_sentiments: dict[str, list[int]]
    daily_score: list[float | None]  # mean sentiment_score per day
    history: list[dict[str, Any]]  # per month: month, total, complaints, share, nss
    top_terms: list[tuple[str, int]]
    customers: list[Customer]
    personas: dict[str, int]  # empty: no persona data yet
    response: Response | None  # None: no mention carries should_respond yet
    nss: float | None
    nss_previous: float | None
    alerts: list[dict[str, Any]] | None  # None: no alerts index yet

    @property
    def complaint_share(self) -> float | None:
        return 100.0 * self.by_type.get("complaint", 0) / self.total if self.total else None


# ------------------------------------------------------------------ pure helpers

def month_bounds(month: str) -> tuple[str, str]:
    """ES range bounds (date math) for `YYYY-MM`, to be read in the report's time zone."""
    datetime.strptime(month, "%Y-%m")  # validates
    return date_from(month), date_until(month)


def previous_months(month: str, n: int) -> list[str]:
    y, m = (int(p) for p in month.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def net_sentiment(positive: int, negative: int, total: int) -> float | None:
    """Net sentiment score: share positive minus share negative, in points (-100..100)."""
    return round(100.0 * (positive - negative) / total, 1) if total else None


def _buckets(agg: dict) -> dict[str, int]:
    return {str(b.get("key_as_string", b["key"])): b["doc_count"] for b in agg.get("buckets", [])}


# ------------------------------------------------------------------ queries

def base_filters(brand: str, month: str | None, tz: str, members: watchlists.Members | None) -> list[dict]:
    out: list[dict] = [{"term": {"brand": brand}}]
    if month:
        gte, lt = month_bounds(month)
        out.append({"range": {"created_at": {"gte": gte, "lt": lt, "time_zone": tz}}})
    if members is not None:  # spelled out: the significant-terms background filter allows no terms lookup
        out.append(watchlists.members_clause(members))
    return out


def month_aggs(month: str, tz: str, fields: dict[str, str], brand_filter: list[dict]) -> dict[str, Any]:
    gte, _ = month_bounds(month)
    first = date.fromisoformat(gte)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    aggs: dict[str, Any] = {
        "types": {"terms": {"field": "type", "size": 10}},
        "sentiments": {"terms": {"field": "sentiment", "size": 10}},
        "personas": {"terms": {"field": "persona", "size": 10}},
        "sources": {"terms": {"field": "source", "size": 20}, "aggs": {"channels": {"terms": {"field": "channel"}}}},
        "daily": {
            "date_histogram": {"field": "created_at", "calendar_interval": "day", "time_zone": tz,
                               "format": "yyyy-MM-dd", "min_doc_count": 0,
                               "extended_bounds": {"min": gte, "max": last.isoformat()}},
            "aggs": {"types": {"terms": {"field": "type", "size": 10}},
                     "sentiments": {"terms": {"field": "sentiment", "size": 10}},
                     "score": {"avg": {"field": "sentiment_score"}}},
        },
        "complaints": {
            "filter": {"term": {"type": "complaint"}},
            "aggs": {"sample": {"sampler": {"shard_size": 2000}, "aggs": {"terms": {"significant_text": {
                "field": "text", "size": 40, "min_doc_count": 2, "filter_duplicate_text": True,
                "exclude": STOPWORDS, "background_filter": {"bool": {"filter": brand_filter}}}}}}},
        },
        "negative": {
            "filter": {"term": {"sentiment": "negative"}},
            "aggs": {"customers": {
                "terms": {"field": "customer_id", "size": 15, "min_doc_count": REPEAT_MIN},
                "aggs": {"sources": {"terms": {"field": "source", "size": 10}},
                         "channels": {"terms": {"field": "channel", "size": 2}},
                         "last": {"max": {"field": "created_at"}},
                         **({"flagged": {"filter": {"exists": {"field": "repeated_negativity"}}}}
                            if "repeated_negativity" in fields else {})}}},
        },
        "respond": {
            "filter": {"term": {"should_respond": True}},
            "aggs": {"overdue": {"filter": overdue_clause(fields)},
                     "open": {"filter": {"bool": {"filter": [{"range": {"respond_by": {"gte": "now"}}}],
                                                  "must_not": [{"exists": {"field": f}}
                                                               for f in reply_fields(fields)]}}}},
        },
    }
    replies = reply_fields(fields)
    if replies:
        aggs["respond"]["aggs"]["answered"] = {"filter": {"bool": {"should": [{"exists": {"field": f}}
                                                                              for f in replies],
                                                                   "minimum_should_match": 1}}}
    return aggs


def history_aggs(month: str, tz: str) -> dict[str, Any]:
    months = previous_months(month, HISTORY_MONTHS)
    return {"months": {
        "date_histogram": {"field": "created_at", "calendar_interval": "month", "time_zone": tz, "format": "yyyy-MM",
                           "min_doc_count": 0, "extended_bounds": {"min": months[0], "max": months[-1]}},
        "aggs": {"complaints": {"filter": {"term": {"type": "complaint"}}},
                 "sentiments": {"terms": {"field": "sentiment", "size": 10}}},
    }}


def shape_history(agg: dict, month: str) -> list[dict[str, Any]]:
    wanted = set(previous_months(month, HISTORY_MONTHS))
    out = []
    for b in agg["buckets"]:
        if b["key_as_string"] not in wanted:
            continue
        sentiments = _buckets(b["sentiments"])
        total, complaints = b["doc_count"], b["complaints"]["doc_count"]
        out.append({"month": b["key_as_string"], "total": total, "complaints": complaints,
                    "share": round(100.0 * complaints / total, 1) if total else None,
                    "nss": net_sentiment(sentiments.get("positive", 0), sentiments.get("negative", 0), total)})
    return out


def shape_customers(agg: dict) -> list[Customer]:
    return [Customer(b["key"], b["doc_count"], list(_buckets(b["sources"])), list(_buckets(b["channels"])),
                     b.get("flagged", {}).get("doc_count", 0), b["last"].get("value_as_string"))
            for b in agg["customers"]["buckets"]]


def shape_response(agg: dict, has_reply_fields: bool) -> Response | None:
    if not agg["doc_count"]:
        return None
    answered = agg["answered"]["doc_count"] if "answered" in agg else None
    return Response(agg["doc_count"], has_reply_fields, answered,
                    agg["overdue"]["doc_count"], agg["open"]["doc_count"])


def collect_alerts(es: Elasticsearch, alerts_index: str, brand: str, month: str, tz: str) -> list[dict] | None:
    if not es.indices.get(index=f"{alerts_index}*").body:  # (exists() is true for a wildcard matching nothing)
        return None
    gte, lt = month_bounds(month)
    # the alerts sink keeps every version of an alert (open, updates, resolve): show the latest of each
    resp = es.search(index=f"{alerts_index}*", size=200, ignore_unavailable=True, query={"bool": {"filter": [
        {"match": {"brand": brand}},
        {"range": {"opened_at": {"gte": gte, "lt": lt, "time_zone": tz}}},
    ]}}, collapse={"field": "id"}, sort=[{"updated_at": "desc"}])
    return sorted((h["_source"] for h in resp["hits"]["hits"]), key=lambda a: a.get("opened_at", ""))


def collect(es: Elasticsearch, *, index: str, brand: str, month: str, tz: str, watchlist_index: str,
            alerts_index: str, watchlist: str | None = None) -> ReportData:
    fields = mention_fields()
    members = None
    if watchlist:
        found = watchlists.get(es, watchlist_index, watchlist)
        if found is None:
            raise ValueError(f"no watchlist named {watchlist!r}")
        members = found.members
    month_filter = base_filters(brand, month, tz, members)
    brand_filter = base_filters(brand, None, tz, members)
    resp = es.search(index=index, size=0, track_total_hits=True, query={"bool": {"filter": month_filter}},
                     aggs=month_aggs(month, tz, fields, brand_filter))
    hist = es.search(index=index, size=0, query={"bool": {"filter": brand_filter}}, aggs=history_aggs(month, tz))
    a = resp["aggregations"]
    total = resp["hits"]["total"]["value"]
    days = [b["key_as_string"] for b in a["daily"]["buckets"]]
    daily_types = {t: [_buckets(b["types"]).get(t, 0) for b in a["daily"]["buckets"]] for t in TYPES}
    daily_sent = {s: [_buckets(b["sentiments"]).get(s, 0) for b in a["daily"]["buckets"]] for s in SENTIMENTS}
    score = [None if b["score"]["value"] is None else round(b["score"]["value"], 3) for b in a["daily"]["buckets"]]
    history = shape_history(hist["aggregations"]["months"], month)
    sentiments = _buckets(a["sentiments"])
    previous = next((h for h in history if h["month"] == previous_months(month, 2)[0]), None)
    return ReportData(
        brand=brand, month=month, time_zone=tz, generated_at=datetime.now(timezone.utc), watchlist=watchlist,
        total=total, by_type=_buckets(a["types"]), by_sentiment=sentiments,
        by_source={b["key"]: _buckets(b["channels"]) for b in a["sources"]["buckets"]},
        days=days, daily_types=daily_types, daily_sentiments=daily_sent, daily_score=score, history=history,
        top_terms=[(b["key"], b["doc_count"]) for b in a["complaints"]["sample"]["terms"]["buckets"]],
        customers=shape_customers(a["negative"]), personas=_buckets(a["personas"]),
        response=shape_response(a["respond"], bool(reply_fields(fields))),
        nss=net_sentiment(sentiments.get("positive", 0), sentiments.get("negative", 0), total),
        nss_previous=previous["nss"] if previous else None,
        alerts=collect_alerts(es, alerts_index, brand, month, tz),
    )
