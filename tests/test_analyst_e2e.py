"""The analyst commands end to end, on mentions the real pipeline classified and indexed:
monthly indices, `luister search`, `watchlist`, `report` (drawn in headless Chromium),
`kibana export`, `forget`, and `indices migrate` (pre-monthly layout and a real mapping bump)."""
from __future__ import annotations

import asyncio
import copy
import hmac
import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.helpers import bulk, scan

from connectors.publisher import MentionPublisher
from connectors.synthetic import BurstSpec, generate
from core.kafka_admin import read_from
from core.settings import Settings
from harness.wait import wait_for
from luister.cli import main
from luister.report import export, render
from schemas import Alert
from sinks.elasticsearch import BulkWriter, ensure_index, lifecycle
from sinks.elasticsearch.fields import flatten
from sinks.elasticsearch.kibana import MENTIONS_VIEW, saved_objects
from sinks.elasticsearch.mapping import MAPPING_VERSION, index_template
from tests.test_analyst_kibana import referenced_fields

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
BRAND = "PakjePost"
MONTH = "2026-10"
UTC = timezone.utc


@pytest.fixture(scope="module")
def isolated_env(isolated_env):
    """The shared per-module names plus this module's watchlist, alerts and audit indices and erase topic."""
    prefix = isolated_env["LUISTER_ES_INDEX_PREFIX"]
    env = {**isolated_env,
           "LUISTER_ES_WATCHLIST_INDEX": f"{prefix}-watchlists", "LUISTER_ES_ALERTS_INDEX": f"{prefix}-alerts",
           "LUISTER_ES_AUDIT_INDEX": f"{prefix}-audit",
           "LUISTER_TOPIC_ERASE": f"{isolated_env['LUISTER_APP_ID']}.erase",
           "LUISTER_AUDIT_HMAC_KEY": "test-audit-key", "LUISTER_REPORT_TIMEZONE": "Europe/Amsterdam"}
    yield env
    es = Elasticsearch(Settings().es_url)
    # (the indices go with the shared clean-up of `<prefix>-*`; templates of this module's extra families here)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")


@pytest.fixture(scope="module")
def env(isolated_env) -> dict[str, str]:
    """The environment the `luister` commands run with: the same settings as the worker."""
    return dict(isolated_env)


@pytest.fixture(scope="module")
def es(settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url, request_timeout=60)


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"luister {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result.stdout


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _count(es: Elasticsearch, index: str, query: dict | None = None) -> int:
    es.indices.refresh(index=index)
    return es.count(index=index, query=query or {"match_all": {}})["count"]


@pytest.fixture(scope="module")
def mentions(worker, settings, es) -> list:
    """Two quiet months and a busy one with a PakjePost outage, through the real pipeline."""
    def month_of(n: int, seed: int, start: datetime, days: float, burst: BurstSpec | None = None) -> list:
        return [m for m, _ in generate(n, seed=seed, start=start, rate_per_minute=n / (days * 1440), burst=burst)]

    burst = BurstSpec(brand=BRAND, start_offset=timedelta(days=13), duration=timedelta(hours=3),
                      rate_per_minute=0.25, topic="storing")
    out = (month_of(50, 81, datetime(2026, 8, 2, 9, tzinfo=UTC), 26)
           + month_of(50, 82, datetime(2026, 9, 2, 9, tzinfo=UTC), 26)
           + month_of(220, 83, datetime(2026, 10, 1, 9, tzinfo=UTC), 26, burst))
    assert len({m.id for m in out}) == len(out)
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as pub:
        for m in out:
            pub.publish(m)
    alias = settings.es_index_prefix
    wait_for(lambda: es.indices.exists_alias(name=alias) and _count(es, alias) == len(out), timeout=180,
             what=f"{len(out)} mentions in {alias}")
    return out


def test_mentions_land_in_the_index_of_their_own_month(mentions, env, settings, es):
    prefix = settings.es_index_prefix
    family = asyncio.run(_family(settings.es_url, prefix))
    by_month = Counter(lifecycle.monthly_index(prefix, MAPPING_VERSION, m.created_at) for m in mentions)
    docs = {i.name: i.docs for i in family}
    for name, n in by_month.items():
        es.indices.refresh(index=name)
        assert _count(es, name) == n, name
    assert {f"{prefix}-v{MAPPING_VERSION}-2026.08", f"{prefix}-v{MAPPING_VERSION}-2026.10"} <= set(docs)
    assert all(i.in_read_alias for i in family) and _count(es, prefix) == len(mentions)
    status = cli(env, "indices", "status")
    assert f"{prefix}-v{MAPPING_VERSION}-2026.09" in status and f"{len(mentions)} searchable" in status


async def _family(url: str, prefix: str):
    async with AsyncElasticsearch(url) as client:
        return await lifecycle.family(client, prefix)


def test_search_stems_filters_highlights_and_counts_facets(mentions, env, settings, es):
    pairs = [("klachten", "klacht"), ("pakketten", "pakket"), ("klanten", "klant"), ("dagen", "dag")]
    many, one = next(p for p in pairs if any(re.search(rf"\b{p[0]}\b", m.text.lower()) for m in mentions))
    with_plural = [m for m in mentions if re.search(rf"\b{many}\b", m.text.lower())]
    plural = {h["_id"] for h in jsonl(cli(env, "search", many, "--size", "1000", "--format", "jsonl"))}
    singular = {h["_id"] for h in jsonl(cli(env, "search", one, "--size", "1000", "--format", "jsonl"))}
    assert plural == singular and {m.id for m in with_plural} <= plural  # Dutch stemming: one word

    hits = jsonl(cli(env, "search", "pakket", "--size", "3", "--format", "jsonl"))
    assert all("<em>" in h["highlight"] for h in hits)

    amsterdam = ZoneInfo("Europe/Amsterdam")
    complaints = jsonl(cli(env, "search", "--type", "complaint", "--brand", BRAND, "--since", MONTH, "--until", MONTH,
                           "--size", "10000", "--format", "jsonl", "--facets"))
    facets = complaints.pop()
    assert complaints and all(h["type"] == "complaint" and h["brand"] == BRAND for h in complaints)
    assert all(datetime.fromisoformat(h["created_at"]).astimezone(amsterdam).strftime("%Y-%m") == MONTH
               for h in complaints)
    expected = _count(es, settings.es_index_prefix, {"bool": {"filter": [
        {"term": {"type": "complaint"}}, {"term": {"brand": BRAND}},
        {"range": {"created_at": {"gte": "2026-10-01", "lt": "2026-11-01", "time_zone": "Europe/Amsterdam"}}}]}})
    assert facets["_total"] == len(complaints) == expected
    assert dict(facets["_facets"]["type"]) == {"complaint": expected}

    table = cli(env, "search", "--sentiment", "negative", "--severity", "0+", "--facets", "--size", "5")
    total = _count(es, settings.es_index_prefix, {"term": {"sentiment": "negative"}})
    facet_line = next(line for line in table.splitlines() if line.strip().startswith("sentiment "))
    assert f"{total} mention(s) match" in table and f"negative {total}" in facet_line
    for h in jsonl(cli(env, "search", "--overdue", "--size", "1000", "--format", "jsonl")):
        assert h["should_respond"] is True and datetime.fromisoformat(h["respond_by"]) < datetime.now(UTC)
    owned = jsonl(cli(env, "search", "--where", "channel=own", "--where", "source=twitter,facebook", "--size", "1000",
                      "--format", "jsonl"))
    assert owned and all(h["channel"] == "own" and h["source"] in ("twitter", "facebook") for h in owned)
    bad = CliRunner().invoke(main, ["search", "--where", "no_such_field=1"], env=env)
    assert bad.exit_code != 0 and "unknown field" in bad.output


def _top_customers(es: Elasticsearch, index: str, n: int) -> list[str]:
    resp = es.search(index=index, size=0, aggs={"c": {"terms": {"field": "customer_id", "size": n}}})
    return [b["key"] for b in resp["aggregations"]["c"]["buckets"]]


def test_watchlists_are_managed_by_cli_and_filter_search(mentions, env, settings, es):
    first, second = _top_customers(es, settings.es_index_prefix, 2)
    handle = second.split(":", 1)[1]
    cli(env, "watchlist", "add", "critics", first, f"@{handle}", "--description", "test critics")
    shown = cli(env, "watchlist", "show", "critics")
    assert first in shown and f"@{handle}" in shown
    assert "critics" in cli(env, "watchlist", "show")

    hits = jsonl(cli(env, "search", "--watchlist", "critics", "--size", "1000", "--format", "jsonl"))
    expected = _count(es, settings.es_index_prefix, {"bool": {"should": [
        {"term": {"customer_id": first}}, {"term": {"author.handle": handle}}]}})
    assert len(hits) == expected and expected >= 2
    assert all(h["customer_id"] == first or h["author"]["handle"].lower() == handle for h in hits)

    cli(env, "watchlist", "remove", "critics", f"@{handle}")
    assert json.loads(cli(env, "watchlist", "show", "critics", "--format", "json"))[0]["handles"] == []
    hits = jsonl(cli(env, "search", "--watchlist", "critics", "--size", "1000", "--format", "jsonl"))
    assert {h["customer_id"] for h in hits} == {first}
    missing = CliRunner().invoke(main, ["search", "--watchlist", "nope"], env=env)
    assert missing.exit_code != 0 and "no watchlist named" in missing.output


class _Charts(HTMLParser):
    """Per report section: is a chart container there, and how many plotly <svg class=main-svg> inside it."""

    def __init__(self):
        super().__init__()
        self.svgs: Counter = Counter()
        self.charts: set[str] = set()
        self.no_data: set[str] = set()
        self._stack: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "data-chart" in a:
            self.charts.add(a["data-chart"])
        if tag == "div" and "data-no-data" in a:
            self.no_data.add(a["data-no-data"])
        current = a.get("data-chart") or (self._stack[-1] if self._stack else None)
        if tag == "svg" and current and "main-svg" in a.get("class", ""):
            self.svgs[current] += 1
        if tag not in ("br", "img", "meta", "link", "input", "path", "rect", "line", "circle", "stop", "use"):
            self._stack.append(current)

    def handle_endtag(self, tag):
        if tag not in ("br", "img", "meta", "link", "input", "path", "rect", "line", "circle", "stop", "use") \
                and self._stack:
            self._stack.pop()


def _external_resources(html: str) -> list[str]:
    class Refs(HTMLParser):
        found: list[str] = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag in ("script", "img", "iframe") and a.get("src"):
                self.found.append(a["src"])
            if tag == "link" and a.get("href"):
                self.found.append(a["href"])

    parser = Refs()
    parser.found = []
    parser.feed(html)
    return parser.found


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        subprocess.run(["make", "chromium"], cwd=ROOT, check=True)  # Debian's package (CI: a fresh machine)
    return export.find_chromium()


def _index_alert(es: Elasticsearch, settings, **fields) -> Alert:
    """As the alerts sink stores it (sinks/elasticsearch/alerts_index.py): one document per version."""
    from sinks.elasticsearch.alerts_index import alert_document, ensure_alerts_index

    async def ensure():
        async with AsyncElasticsearch(settings.es_url) as client:
            await ensure_alerts_index(client, settings.es_alerts_index)

    asyncio.run(ensure())
    alert = Alert.model_validate_json(json.dumps(fields))  # strict model: JSON input gives enums and dates
    doc_id, doc = alert_document(alert)
    es.index(index=settings.es_alerts_index, id=doc_id, refresh=True,
             document={**doc, "indexed_at": datetime.now(UTC).isoformat()})
    return alert


def test_monthly_report_draws_every_chart_in_headless_chromium(mentions, env, settings, es, chromium, tmp_path):
    cli(env, "watchlist", "add", "vips", *_top_customers(es, settings.es_index_prefix, 3))
    surge = dict(id="negative_surge:pakjepost:storing:1", kind="negative_surge", brand=BRAND, topic="storing",
                 severity=2, opened_at="2026-10-14T10:05:00Z", updated_at="2026-10-14T10:05:00Z",
                 summary="Negative surge for PakjePost about storing")
    _index_alert(es, settings, status="open", **surge)
    _index_alert(es, settings, **{**surge, "status": "resolved", "sequence": 1, "updated_at": "2026-10-14T13:00:00Z",
                                  "resolved_at": "2026-10-14T13:00:00Z", "summary": "Negative surge resolved"})
    _index_alert(es, settings, **{**surge, "id": "negative_surge:belnet:x:1", "brand": "Belnet", "status": "open"})
    out, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    said = cli(env, "report", "--brand", BRAND, "--month", MONTH, "--out", str(out), "--pdf", str(pdf))
    assert f"wrote {out}" in said and pdf.read_bytes().startswith(b"%PDF")
    html = out.read_text()
    assert _external_resources(html) == []  # self-contained: opens offline
    total = _count(es, settings.es_index_prefix, {"bool": {"filter": [
        {"term": {"brand": BRAND}},
        {"range": {"created_at": {"gte": "2026-10-01", "lt": "2026-11-01", "time_zone": "Europe/Amsterdam"}}}]}})
    assert f"<span>Mentions</span><b>{total}</b>" in html and total > 40

    page = _Charts()
    page.feed(export.dump_dom(out, chromium=chromium))
    expected = set(re.findall(r'data-chart="([a-z]+)"', html))
    core = {"volume", "sentiment", "seasonality", "terms", "nss", "sources"}
    assert core <= expected, f"charts with data: {expected}"
    assert page.charts == expected
    assert {s for s in expected if page.svgs[s] >= 1} == expected, f"drawn svgs per chart: {dict(page.svgs)}"
    sections = {s.id for s in render.SECTIONS}
    assert expected | page.no_data == sections and not expected & page.no_data  # the rest says "no data"
    # alerts of the month: this brand's, the latest version of each
    assert "Negative surge resolved" in html and "Belnet" not in html.split('id="alerts"')[1]
    rows = re.findall(r"<tr><td>(2026-10-[^<]*)</td><td>([a-z_]+)</td><td>([a-z]+)</td>", html.split('id="alerts"')[1])
    assert ("2026-10-14 12:05", "negative_surge", "resolved") in rows  # 10:05 UTC in Amsterdam, latest version
    distinct = es.search(index=settings.es_alerts_index, size=0, query={"bool": {"filter": [
        {"term": {"brand": BRAND}}, {"range": {"opened_at": {"gte": "2026-10-01", "lt": "2026-11-01"}}}]}},
        aggs={"ids": {"cardinality": {"field": "id"}}})["aggregations"]["ids"]["value"]
    # one row per alert (the pipeline's own crisis alerts too, which may still be arriving)
    assert f"<span>Alerts</span><b>{len(rows)}</b>" in html and len(rows) <= distinct

    # the same report for one watchlist only
    narrow = tmp_path / "vips.html"
    cli(env, "report", "--brand", BRAND, "--month", MONTH, "--out", str(narrow), "--watchlist", "vips")
    assert "watchlist <b>vips</b>" in narrow.read_text()


def test_kibana_export_uses_only_fields_of_the_live_index(mentions, env, settings, es, tmp_path):
    cli(env, "watchlist", "add", "journalists-nl", "@someone")
    path = tmp_path / "kibana.ndjson"
    cli(env, "kibana", "export", "--out", str(path))
    objects = [json.loads(line) for line in path.read_text().splitlines()]
    assert "Watchlist: journalists-nl" in {o["attributes"]["title"] for o in objects}
    live = es.indices.get_mapping(index=settings.es_index_prefix)
    live_fields = {f for idx in live.body.values() for f in flatten(idx["mappings"]["properties"])}
    for obj in objects:
        view, fields = referenced_fields(obj)
        if view == MENTIONS_VIEW:
            assert fields <= live_fields, f"{obj['id']}: {fields - live_fields}"
    assert objects == saved_objects(mentions_title=settings.es_index_prefix,
                                    alerts_title=f"{settings.es_alerts_index}*",
                                    watchlist_index=settings.es_watchlist_index,
                                    watchlist_names=sorted({"journalists", "critics", "vips", "journalists-nl"}))


def test_forget_erases_a_customer_everywhere_and_audits_without_personal_data(mentions, env, settings, es):
    prefix = settings.es_index_prefix
    victim = _top_customers(es, prefix, 1)[0]
    handle = victim.split(":", 1)[1].lower()
    theirs = [m for m in mentions if m.customer_key == victim]
    assert len(theirs) >= 2
    cli(env, "watchlist", "add", "critics", victim, f"@{handle}")
    if not es.options(ignore_status=404).exists(index=settings.es_customers_index, id=victim):
        es.index(index=settings.es_customers_index, id=victim, refresh=True,  # the profile agent may not run yet
                 document={"customer_id": victim, "accounts": [victim]})
    before = _count(es, prefix)
    about = dict(id=f"repeated_negativity_spreading:{BRAND}:{victim.replace(':', '-')}:1", status="open",
                 kind="repeated_negativity_spreading", brand=BRAND, topic=victim, severity=2,
                 opened_at="2026-10-20T10:00:00Z", updated_at="2026-10-20T10:00:00Z",
                 summary=f"@{handle} spreads one negative story", mention_ids=[m.id for m in theirs],
                 evidence={"customer_id": victim})
    _index_alert(es, settings, **about)
    _index_alert(es, settings, **{**about, "status": "update", "sequence": 1})
    _index_alert(es, settings, id="negative_surge:pakjepost:x:9", kind="negative_surge", status="open", brand=BRAND,
                 topic="bezorging", severity=2, opened_at="2026-10-20T10:00:00Z", updated_at="2026-10-20T10:00:00Z",
                 summary=f"Surge, e.g. @{handle}: {theirs[0].text[:40]}", evidence={"latest": theirs[0].text},
                 mention_ids=[m.id for m in theirs] + ["twitter:someone-else"])

    said = cli(env, "forget", "--customer", victim, "--ticket", "REQ-1", "--yes")
    assert f"{len(theirs)} mention(s)" in said

    assert _count(es, prefix) == before - len(theirs)
    assert _count(es, f"{prefix}-v*", {"term": {"customer_id": victim}}) == 0
    source = victim.split(":", 1)[0]  # (the same handle on another platform is another account, until linked)
    assert _count(es, f"{prefix}-v*", {"bool": {"filter": [{"term": {"author.handle": handle}},
                                                           {"term": {"source": source}}]}}) == 0
    for m in theirs:  # nothing of theirs comes back for their own words
        words = " ".join(m.text.split()[:6])
        found = jsonl(cli(env, "search", words, "--size", "1000", "--format", "jsonl"))
        assert not {h["_id"] for h in found} & {x.id for x in theirs}
    assert _count(es, f"{settings.es_customers_index}*", {"bool": {"should": [
        {"ids": {"values": [victim]}}, {"term": {"customer_id": victim}}]}}) == 0
    wl = json.loads(cli(env, "watchlist", "show", "critics", "--format", "json"))[0]
    assert victim not in wl["customer_ids"] and handle not in wl["handles"]

    assert _count(es, settings.es_alerts_index, {"term": {"id": about["id"]}}) == 0  # both versions gone
    surge = es.get(index=settings.es_alerts_index, id="negative_surge:pakjepost:x:9#0000")["_source"]
    assert surge["mention_ids"] == ["twitter:someone-else"] and surge["evidence"] == {}
    assert surge["brand"] == BRAND and handle not in surge["summary"]
    alerts = [h["_source"] for h in scan(es, index=settings.es_alerts_index, query={"query": {"match_all": {}}})]
    assert all(victim not in json.dumps(a) and f"@{handle}" not in json.dumps(a).lower() for a in alerts)

    audit = [h["_source"] for h in es.search(index=settings.es_audit_index, size=10)["hits"]["hits"]]
    assert len(audit) == 1
    record = audit[0]
    assert record["mentions_deleted"] == len(theirs) and record["ticket"] == "REQ-1"
    assert record["subject_hash"] == hmac.new(b"test-audit-key", victim.encode(), "sha256").hexdigest()
    assert handle not in json.dumps(record).lower()

    requests = read_from(settings.kafka_bootstrap, settings.topic_erase, {})
    assert [json.loads(v)["customer_id"] for v in requests] == [victim]


def test_migrate_moves_a_pre_monthly_index_into_monthly_ones(mentions, env, settings, es):
    """`luister indices migrate` on the old layout (`<prefix>-v1`, one index behind the alias)."""
    prefix = f"{settings.es_index_prefix}-legacy"
    legacy = f"{prefix}-v1"
    template = index_template(prefix)["template"]
    es.indices.create(index=legacy, settings=template["settings"], mappings=template["mappings"],
                      aliases={prefix: {"is_write_index": True}})
    bulk(es, ({"_index": legacy, "_id": h["_id"], "_source": h["_source"]}  # (the node has no reindex module)
              for h in scan(es, index=settings.es_index_prefix, query={"query": {"match_all": {}}})))
    es.indices.refresh(index=legacy)
    n = _count(es, legacy)
    assert n == _count(es, settings.es_index_prefix) > 0
    env = {**env, "LUISTER_ES_INDEX_PREFIX": prefix}

    result = CliRunner().invoke(main, ["indices", "migrate"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{n} copied" in result.output
    family = {i.name: i for i in asyncio.run(_family(settings.es_url, prefix))}
    assert not family[legacy].in_read_alias and family[legacy].docs == n  # kept, out of the alias
    monthly = [i for i in family.values() if i.month]
    assert monthly and all(i.in_read_alias for i in monthly) and sum(i.docs for i in monthly) == n
    assert _count(es, prefix) == n
    again = CliRunner().invoke(main, ["indices", "migrate"], env=env, catch_exceptions=False)
    assert again.exit_code == 0 and "nothing to migrate" in again.output


def test_migrate_to_a_new_mapping_version_loses_nothing(mentions, env, settings, es):
    """A real mapping bump: v1 monthly indices -> v2 (one more field), alias moved, old deleted."""
    prefix = f"{settings.es_index_prefix}-bump"
    docs = [(h["_id"], {k: v for k, v in h["_source"].items() if k != "indexed_at"})
            for h in scan(es, index=settings.es_index_prefix, query={"query": {"match_all": {}}})]
    v2 = copy.deepcopy(index_template(prefix))
    v2["version"] = MAPPING_VERSION + 1
    v2["index_patterns"] = [f"{prefix}-v{MAPPING_VERSION + 1}-*"]
    v2["priority"] = 100 + MAPPING_VERSION + 1
    v2["template"]["mappings"]["properties"]["campaign"] = {"type": "keyword"}

    async def go():
        async with AsyncElasticsearch(settings.es_url, request_timeout=120) as client:
            await ensure_index(client, prefix)  # the v1 layout, as the pipeline makes it
            written = await BulkWriter(client, lifecycle.monthly_router(prefix, MAPPING_VERSION)).write(docs)
            assert written.indexed == len(docs) and not written.rejected
            await client.indices.refresh(index=prefix)
            # an upgraded worker already wrote one mention in the new layout before the migration
            early_id, early = docs[0]
            await lifecycle.put_template(client, prefix, v2, read_alias=True)
            await client.index(index=lifecycle.monthly_index(prefix, v2["version"], early["created_at"]), id=early_id,
                               document={**early, "campaign": "autumn"}, refresh=True)
            report = await lifecycle.migrate(client, prefix, v2, delete_old=True)
            again = await lifecycle.migrate(client, prefix, v2)
            return report, again, await lifecycle.family(client, prefix)

    report, again, family = asyncio.run(go())
    assert report.already_there == 1 and sum(report.copied.values()) == len(docs) - 1
    assert report.deleted and not again.sources
    assert family and all(i.version == MAPPING_VERSION + 1 and i.month and i.in_read_alias for i in family)
    es.indices.refresh(index=prefix)
    ids = {h["_id"] for h in scan(es, index=prefix, query={"query": {"match_all": {}}}, _source=False)}
    assert ids == {d for d, _ in docs} and _count(es, prefix) == len(docs)
    assert es.search(index=prefix, query={"term": {"campaign": "autumn"}})["hits"]["total"]["value"] == 1
    # the new mapping is in force: the new field is accepted (v1's strict mapping refused it)
    es.index(index=lifecycle.monthly_index(prefix, MAPPING_VERSION + 1, "2026-10-05T10:00:00Z"), id="x:1",
             document={**docs[1][1], "id": "x:1", "campaign": "spring"}, refresh=True)
    assert _count(es, prefix) == len(docs) + 1
