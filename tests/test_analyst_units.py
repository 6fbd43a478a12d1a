"""The analyst surface's pure parts: index names, search DSL, watchlist members, report numbers."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from luister.commands.search import snippet
from luister.report.charts import clean_terms
from luister.report.data import month_bounds, net_sentiment, previous_months, shape_history
from sinks.elasticsearch import lifecycle, watchlists
from sinks.elasticsearch.erase import handle_of, subject_hash
from sinks.elasticsearch.fields import filterable, mention_fields
from sinks.elasticsearch.mapping import MAPPING_VERSION, index_template
from sinks.elasticsearch.search import SearchError, SearchRequest, build_body, severity_clause


def test_monthly_index_follows_event_time_in_utc():
    assert lifecycle.monthly_index("m", 1, "2026-10-31T23:30:00-02:00") == "m-v1-2026.11"
    assert lifecycle.monthly_index("m", 1, "2026-10-01T00:00:00Z") == "m-v1-2026.10"
    assert lifecycle.monthly_index("m", 2, datetime(2026, 9, 30, 22, tzinfo=timezone(timedelta(hours=2)))) \
        == "m-v2-2026.09"
    assert lifecycle.monthly_index("m", 1, None) == "m-v1-undated"
    route = lifecycle.monthly_router("m", 3)
    assert route({"created_at": "2026-01-15T10:00:00+00:00"}) == "m-v3-2026.01"


def test_index_names_parse_and_what_needs_migration():
    parse = lifecycle.parse_index
    assert parse("luister-mentions", "luister-mentions-v1") == lifecycle.IndexName("luister-mentions-v1", 1, None)
    assert parse("luister-mentions", "luister-mentions-v2-2026.10").month == "2026.10"
    assert parse("luister-mentions", "luister-mentions-watchlists") is None
    assert parse("luister-mentions", "luister-mentions-v1-2026.10-x") is None
    assert lifecycle.needs_migration(parse("p", "p-v1"), 1)  # the pre-monthly layout
    assert lifecycle.needs_migration(parse("p", "p-v1-2026.10"), 2)
    assert not lifecycle.needs_migration(parse("p", "p-v2-2026.10"), 2)


def test_template_matches_only_its_version_and_carries_the_read_alias_when_asked():
    t = index_template("p")
    assert t["index_patterns"] == [f"p-v{MAPPING_VERSION}-*"] and t["version"] == MAPPING_VERSION
    assert lifecycle.versioned_template(t, "p", read_alias=True)["template"]["aliases"] == {"p": {}}
    assert lifecycle.versioned_template(t, "p", read_alias=False)["template"]["aliases"] == {}
    assert t["template"]["aliases"] == {"p": {}}  # not mutated
    assert lifecycle.month_range("2026.12") == {"range": {"created_at": {
        "gte": "2026-12-01T00:00:00+00:00", "lt": "2027-01-01T00:00:00+00:00"}}}


def test_search_body_text_filters_watchlist_and_facets():
    req = SearchRequest(text="pakketten kwijt", terms={"type": ("complaint",), "brand": ("A", "B"),
                                                       "flags.legal_threat": ("true",)},
                        severity="2+", since="2026-10", until="2026-10", watchlists=("vips",), overdue=True,
                        has=("repeated_negativity",), facets=("type", "severity"), time_zone="Europe/Amsterdam")
    body = build_body(req, watchlist_index="wl")
    must = body["query"]["bool"]["must"][0]["simple_query_string"]
    assert must["fields"] == ["text", "text.nl", "text.en"] and must["default_operator"] == "and"
    flt = body["query"]["bool"]["filter"]
    assert {"term": {"type": "complaint"}} in flt and {"terms": {"brand": ["A", "B"]}} in flt
    assert {"term": {"flags.legal_threat": True}} in flt
    assert {"range": {"severity": {"gte": 2}}} in flt
    assert {"range": {"created_at": {"time_zone": "Europe/Amsterdam", "gte": "2026-10-01",
                                     "lt": "2026-10-01||+1M"}}} in flt
    assert watchlists.clause("wl", ["vips"]) in flt
    assert {"exists": {"field": "repeated_negativity"}} in flt
    assert body["sort"][0] == "_score" and set(body["highlight"]["fields"]) == {"text", "text.nl", "text.en"}
    assert set(body["aggs"]) == {"type", "severity"}


@pytest.mark.parametrize("bad", [SearchRequest(terms={"nope": ("x",)}), SearchRequest(terms={"text": ("x",)}),
                                 SearchRequest(terms={"severity": ("high",)}), SearchRequest(severity="x+")])
def test_search_rejects_unknown_or_unfilterable_fields(bad):
    with pytest.raises(SearchError):
        build_body(bad, watchlist_index="wl")


def test_filters_follow_the_mapping_field_list():
    fields = mention_fields()
    can = filterable(fields)
    assert {"type", "sentiment", "persona", "severity", "brand", "author.handle", "flags.press"} <= set(can)
    assert "text" not in can and "url" not in can and "suggested_reply" not in can  # text / not indexed
    assert severity_clause("1-2") == {"range": {"severity": {"gte": 1, "lte": 2}}}


def test_watchlist_members_are_customer_ids_or_handles():
    m = watchlists.parse_members(["twitter:@JDevries", "@Sanne", "customer:c-17", "kees", "acme:77"])
    assert m.customer_ids == ["twitter:jdevries", "c-17", "acme:77"] and m.handles == ["sanne", "kees"]
    clause = watchlists.clause("wl", ["a"])
    assert clause["bool"]["should"][0] == {"terms": {"customer_id": {"index": "wl", "id": "a", "path": "customer_ids"}}}
    with pytest.raises(ValueError):
        watchlists.check_name("Bad Name")


def test_snippet_keeps_the_match_in_view():
    long = "a " * 100 + "the <em>pakket</em> is weg " + "b " * 100
    out = snippet(long, width=60)
    assert "pakket" in out and len(out) < 120
    assert snippet("short <em>x</em>") .count("x") == 1


def test_report_numbers():
    assert month_bounds("2026-10") == ("2026-10-01", "2026-10-01||+1M")
    assert previous_months("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert net_sentiment(30, 50, 100) == -20.0 and net_sentiment(0, 0, 0) is None
    agg = {"buckets": [
        {"key_as_string": "2026-09", "doc_count": 10, "complaints": {"doc_count": 4},
         "sentiments": {"buckets": [{"key": "negative", "doc_count": 5}, {"key": "positive", "doc_count": 2}]}},
        {"key_as_string": "2026-10", "doc_count": 0, "complaints": {"doc_count": 0}, "sentiments": {"buckets": []}},
    ]}
    assert shape_history(agg, "2026-10") == [
        {"month": "2026-09", "total": 10, "complaints": 4, "share": 40.0, "nss": -30.0},
        {"month": "2026-10", "total": 0, "complaints": 0, "share": None, "nss": None}]
    assert clean_terms([("🤬", 5), ("ff", 4), ("https", 3), ("bezorging", 3), ("de", 9), ("kapot", 2)]) == \
        [("bezorging", 3), ("kapot", 2)]


def test_erasure_identifies_the_subject_only_by_a_keyed_hash():
    assert handle_of("twitter:jdevries") == "jdevries" and handle_of("c-17") is None
    h = subject_hash("twitter:jdevries", "k1")
    assert len(h) == 64 and "jdevries" not in h and h != subject_hash("twitter:jdevries", "k2")


def test_an_alert_that_involved_the_customer_keeps_its_shape_but_not_them():
    from sinks.elasticsearch.erase import REDACTED, redact_alert

    alert = {"id": "negative_surge:x", "kind": "negative_surge", "brand": "B", "topic": "twitter:jd", "severity": 2,
             "summary": "Surge, e.g. @jd: 'kapot'", "mention_ids": ["twitter:1", "twitter:2"],
             "evidence": {"latest": "kapot"}, "opened_at": "2026-10-01T00:00:00Z"}
    out = redact_alert(alert, {"twitter:1"}, {"twitter:jd"})
    assert out["mention_ids"] == ["twitter:2"] and out["evidence"] == {}
    assert out["summary"] == REDACTED and out["topic"] == REDACTED
    assert {k: out[k] for k in ("id", "kind", "brand", "severity", "opened_at")} == \
        {k: alert[k] for k in ("id", "kind", "brand", "severity", "opened_at")}
    assert alert["summary"].startswith("Surge")  # the input is not changed


def test_report_times_are_shown_in_the_report_time_zone():
    from luister.report.render import local_time

    assert local_time("2026-10-14T10:05:00Z", "Europe/Amsterdam") == "2026-10-14 12:05"
    assert local_time("2026-12-14T10:05:00+00:00", "Europe/Amsterdam") == "2026-12-14 11:05"
    assert local_time(None, "UTC") == ""
