"""deploy/kibana/luister.ndjson: importable saved objects whose every field exists in the mapping."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sinks.elasticsearch.fields import mention_fields
from sinks.elasticsearch.kibana import ALERTS_VIEW, MENTIONS_VIEW, alert_fields, saved_objects, to_ndjson
from sinks.elasticsearch.watchlists import DEFAULT_LISTS

NDJSON = Path(__file__).resolve().parent.parent / "deploy" / "kibana" / "luister.ndjson"
KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*(?::|<=|>=|<|>)")
DSL_LEAVES = {"term", "terms", "range", "match", "match_phrase", "prefix", "wildcard"}


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines() if line.strip()]


def _kql_fields(query: str) -> set[str]:
    return set(KQL_FIELD.findall(query))


def _dsl_fields(node) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DSL_LEAVES and isinstance(value, dict):
                out |= {k for k in value if k not in ("boost", "time_zone")}
            elif key == "exists":
                out.add(value["field"])
            out |= _dsl_fields(value)
    elif isinstance(node, list):
        for item in node:
            out |= _dsl_fields(item)
    return out


def referenced_fields(obj: dict) -> tuple[str, set[str]]:
    """(data view id, fields the object uses), read from the saved object as Kibana stores it."""
    a = obj["attributes"]
    if obj["type"] == "index-pattern":
        fields = {a["timeFieldName"]} | set(json.loads(a["fieldAttrs"])) | \
                 {f["value"] for f in json.loads(a["sourceFilters"])}
        return obj["id"], fields
    if obj["type"] == "lens":
        view = next(r["id"] for r in obj["references"] if r["type"] == "index-pattern")
        fields = _kql_fields(a["state"]["query"]["query"])
        for layer in a["state"]["datasourceStates"]["formBased"]["layers"].values():
            for col in layer["columns"].values():
                if col.get("sourceField") != "___records___":
                    fields.add(col["sourceField"])
                if "filter" in col:
                    fields |= _kql_fields(col["filter"]["query"])
        return view, fields
    if obj["type"] == "search":
        view = next(r["id"] for r in obj["references"] if r["name"].endswith("searchSourceJSON.index"))
        source = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
        fields = set(a["columns"]) | {s[0] for s in a["sort"]} | _kql_fields(source["query"]["query"])
        for f in source["filter"]:
            fields |= _dsl_fields(f["query"])
        return view, fields
    return "", set()


def test_the_committed_file_is_what_the_generator_makes():
    assert NDJSON.read_text() == to_ndjson(saved_objects()), "run: luister kibana export --default-watchlists"


def test_every_referenced_field_exists_in_the_mapping(objects):
    known = {MENTIONS_VIEW: set(mention_fields()), ALERTS_VIEW: set(alert_fields())}
    checked = 0
    for obj in objects:
        view, fields = referenced_fields(obj)
        if not view:
            continue
        missing = fields - known[view]
        assert not missing, f"{obj['type']} {obj['id']} uses fields not in the {view} mapping: {missing}"
        checked += len(fields)
    assert checked > 50
    # the alerts view is built on the alerts sink's own mapping
    assert {"opened_at", "kind", "status", "brand", "summary"} <= known[ALERTS_VIEW]


def test_objects_are_importable_shapes_with_resolvable_references(objects):
    by_id = {(o["type"], o["id"]) for o in objects}
    assert len(by_id) == len(objects), "duplicate ids"
    kinds = [o["type"] for o in objects]
    assert kinds.index("dashboard") > kinds.index("lens") > kinds.index("index-pattern")  # import order
    for o in objects:
        assert {"type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"} <= set(o)
        assert o["attributes"]["title"]
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in by_id, f"{o['id']} refers to missing {ref}"
        if o["type"] == "dashboard":
            panels = json.loads(o["attributes"]["panelsJSON"])
            names = {r["name"] for r in o["references"]}
            assert panels and all(f"{p['panelIndex']}:{p['panelRefName']}" in names for p in panels)
            assert all(p["gridData"]["x"] + p["gridData"]["w"] <= 48 for p in panels)
        if o["type"] == "search":
            source = json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
            names = {r["name"] for r in o["references"]}
            assert source["indexRefName"] in names
            assert all(f["meta"]["indexRefName"] in names for f in source["filter"])


def test_dashboards_and_a_saved_search_per_watchlist(objects):
    titles = {o["attributes"]["title"] for o in objects}
    assert {"Luister — webcare", "Luister — crisis"} <= titles
    assert {f"Watchlist: {name}" for name in DEFAULT_LISTS} <= titles
    extra = saved_objects(watchlist_names=["press-nl"])
    assert "Watchlist: press-nl" in {o["attributes"]["title"] for o in extra}
