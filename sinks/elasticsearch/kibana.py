"""Kibana 8.x saved objects (data views, Lens charts, saved searches, dashboards) as NDJSON.

Generated, not hand-edited: every field they use is named here and must exist in the
mapping's field list (tests/test_analyst_kibana.py checks it), and each watchlist gets a
saved search whose filter is the same terms lookup `luister search --watchlist` uses.
Regenerate with `luister kibana export`; import with Kibana's Saved Objects page or
`POST /api/saved_objects/_import` (docs/analysts.md).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sinks.elasticsearch import watchlists
from sinks.elasticsearch.alerts_index import alert_properties
from sinks.elasticsearch.fields import flatten, mention_fields

CORE_MIGRATION = "8.8.0"
TYPE_MIGRATION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "10.2.0"}
MENTIONS_VIEW = "luister-mentions"
ALERTS_VIEW = "luister-alerts"
SEARCH_COLUMNS = ["brand", "source", "channel", "type", "sentiment", "severity", "persona", "customer_id", "text"]
ALERT_COLUMNS = ["brand", "kind", "status", "severity", "topic", "summary"]
LABELS = {
    "created_at": "Posted", "brand": "Brand", "source": "Source", "channel": "Channel", "type": "Type",
    "sentiment": "Sentiment", "sentiment_score": "Sentiment score", "severity": "Severity (0-3)",
    "persona": "Persona", "customer_id": "Customer", "author.handle": "Handle", "text": "Text",
    "language": "Language", "should_respond": "Should respond", "respond_by": "Respond by",
}


def alert_fields() -> dict[str, str]:
    """Fields of the alerts index, as the alerts sink maps them."""
    return flatten(alert_properties())


def _obj(kind: str, oid: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict[str, Any]:
    return {"type": kind, "id": oid, "attributes": attributes, "references": references, "managed": False,
            "coreMigrationVersion": CORE_MIGRATION, "typeMigrationVersion": TYPE_MIGRATION[kind]}


def data_view(oid: str, title: str, name: str, time_field: str, fields: Mapping[str, str],
              hidden: Iterable[str] = ()) -> dict[str, Any]:
    attrs = {"title": title, "name": name, "timeFieldName": time_field, "allowNoIndex": True,
             "fieldAttrs": json.dumps({f: {"customLabel": label} for f, label in LABELS.items() if f in fields}),
             "sourceFilters": json.dumps([{"value": f} for f in hidden]), "runtimeFieldMap": "{}"}
    return _obj("index-pattern", oid, attrs, [])


# ------------------------------------------------------------------ Lens

@dataclass
class Layer:
    """One Lens data layer: its columns in order (id -> column spec)."""
    view: str
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count(self, cid: str = "count", label: str = "Mentions", kql: str | None = None) -> str:
        col = {"label": label, "customLabel": True, "dataType": "number", "operationType": "count",
               "isBucketed": False, "scale": "ratio", "sourceField": "___records___", "params": {"emptyAsNull": True}}
        if kql:
            col["filter"] = {"query": kql, "language": "kuery"}
        self.columns[cid] = col
        return cid

    def unique(self, name: str, cid: str, label: str) -> str:
        self.columns[cid] = {"label": label, "customLabel": True, "dataType": "number",
                             "operationType": "unique_count", "isBucketed": False, "scale": "ratio",
                             "sourceField": name, "params": {"emptyAsNull": True}}
        return cid

    def histogram(self, name: str = "created_at", cid: str = "time") -> str:
        self.columns[cid] = {"label": name, "dataType": "date", "operationType": "date_histogram",
                             "sourceField": name, "isBucketed": True, "scale": "interval",
                             "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}
        return cid

    def terms(self, name: str, cid: str, order_by: str, size: int = 5, other: bool = True) -> str:
        self.columns[cid] = {"label": f"Top {size} values of {name}", "dataType": "string", "operationType": "terms",
                             "sourceField": name, "isBucketed": True, "scale": "ordinal",
                             "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by},
                                        "orderDirection": "desc", "otherBucket": other, "missingBucket": False,
                                        "parentFormat": {"id": "terms"}, "include": [], "exclude": [],
                                        "includeIsRegex": False, "excludeIsRegex": False}}
        return cid

    def state(self) -> dict[str, Any]:
        order = [c for c, spec in self.columns.items() if spec["isBucketed"]] + \
                [c for c, spec in self.columns.items() if not spec["isBucketed"]]
        return {"formBased": {"layers": {"layer1": {"columns": self.columns, "columnOrder": order,
                                                    "incompleteColumns": {}, "sampling": 1}}}}


def lens(oid: str, title: str, layer: Layer, vis_type: str, visualization: dict[str, Any],
         kql: str = "") -> dict[str, Any]:
    attrs = {"title": title, "description": "", "visualizationType": vis_type, "state": {
        "datasourceStates": layer.state(), "visualization": visualization,
        "query": {"query": kql, "language": "kuery"}, "filters": [], "internalReferences": [], "adHocDataViews": {}}}
    return _obj("lens", oid, attrs, [{"type": "index-pattern", "id": layer.view,
                                      "name": "indexpattern-datasource-layer-layer1"}])


def xy(oid: str, title: str, view: str, split: str | None, series: str = "bar_stacked", kql: str = "",
       x: str | None = None) -> dict[str, Any]:
    layer = Layer(view)
    y = layer.count()
    xcol = layer.terms(x, "x", y, size=10) if x else layer.histogram(_time_field(view))
    scol = layer.terms(split, "split", y) if split else None
    vis = {"legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide", "preferredSeriesType": series,
           "layers": [{"layerId": "layer1", "layerType": "data", "seriesType": series, "xAccessor": xcol,
                       "accessors": [y], **({"splitAccessor": scol} if scol else {})}]}
    return lens(oid, title, layer, "lnsXY", vis, kql)


def donut(oid: str, title: str, view: str, by: str, kql: str = "") -> dict[str, Any]:
    layer = Layer(view)
    m = layer.count()
    g = layer.terms(by, "group", m, size=8)
    vis = {"shape": "donut", "layers": [{"layerId": "layer1", "layerType": "data", "primaryGroups": [g],
                                         "metrics": [m], "numberDisplay": "percent", "categoryDisplay": "default",
                                         "legendDisplay": "default", "nestedLegend": False}]}
    return lens(oid, title, layer, "lnsPie", vis, kql)


def metric(oid: str, title: str, view: str, label: str, kql: str) -> dict[str, Any]:
    layer = Layer(view)
    m = layer.count(label=label, kql=kql)
    return lens(oid, title, layer, "lnsMetric", {"layerId": "layer1", "layerType": "data", "metricAccessor": m})


def table(oid: str, title: str, view: str, by: str, kql: str, unique_of: str | None = None) -> dict[str, Any]:
    layer = Layer(view)
    m = layer.count()
    g = layer.terms(by, "group", m, size=20, other=False)
    cols = [g, m] + ([layer.unique(unique_of, "distinct", f"Distinct {unique_of}")] if unique_of else [])
    return lens(oid, title, layer, "lnsDatatable", {"layerId": "layer1", "layerType": "data",
                                                    "columns": [{"columnId": c} for c in cols]}, kql)


def _time_field(view: str) -> str:
    return "opened_at" if view == ALERTS_VIEW else "created_at"


# ------------------------------------------------------------------ saved searches and dashboards

def saved_search(oid: str, title: str, view: str, columns: list[str], kql: str = "",
                 filters: list[dict[str, Any]] | None = None, description: str = "") -> dict[str, Any]:
    refs = [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": view}]
    flts = []
    for i, f in enumerate(filters or []):
        name = f"kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"
        flts.append({**f, "meta": {**f["meta"], "indexRefName": name}})
        refs.append({"name": name, "type": "index-pattern", "id": view})
    source = {"query": {"query": kql, "language": "kuery"}, "filter": flts,
              "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"}
    attrs = {"title": title, "description": description, "columns": columns,
             "sort": [[_time_field(view), "desc"]], "grid": {}, "hideChart": False, "isTextBasedQuery": False,
             "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)}}
    return _obj("search", oid, attrs, refs)


def watchlist_filter(watchlist_index: str, name: str) -> dict[str, Any]:
    query = watchlists.clause(watchlist_index, [name])
    return {"meta": {"alias": f"watchlist: {name}", "negate": False, "disabled": False, "type": "custom",
                     "key": "query", "value": json.dumps(query)},
            "query": query, "$state": {"store": "appState"}}


def dashboard(oid: str, title: str, description: str, panels: list[tuple[dict[str, Any], int, int]]) -> dict:
    """`panels`: (saved object, width, height) laid out left to right on a 48-column grid."""
    out, refs, x, y, row_h = [], [], 0, 0, 0
    for i, (obj, w, h) in enumerate(panels, start=1):
        if x + w > 48:
            x, y, row_h = 0, y + row_h, 0
        pid = f"p{i}"
        out.append({"type": obj["type"], "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid}, "panelIndex": pid,
                    "embeddableConfig": {"enhancements": {}}, "panelRefName": f"panel_{pid}"})
        refs.append({"name": f"{pid}:panel_{pid}", "type": obj["type"], "id": obj["id"]})
        x, row_h = x + w, max(row_h, h)
    attrs = {"title": title, "description": description, "panelsJSON": json.dumps(out),
             "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                        "syncTooltips": False, "hidePanelTitles": False}),
             "timeRestore": True, "timeFrom": "now-30d", "timeTo": "now",
             "refreshInterval": {"pause": False, "value": 60000}, "version": 1,
             "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"},
                                                                        "filter": []})}}
    return _obj("dashboard", oid, attrs, refs)


def saved_objects(*, mentions_title: str = "luister-mentions", alerts_title: str = "luister-alerts*",
                  watchlist_index: str = "luister-watchlists",
                  watchlist_names: Iterable[str] = tuple(watchlists.DEFAULT_LISTS)) -> list[dict[str, Any]]:
    """Every object, in import order (data views first, dashboards last)."""
    fields = mention_fields()
    overdue = "should_respond: true and respond_by < now"
    m = MENTIONS_VIEW
    views = [data_view(m, mentions_title, "Luister mentions", "created_at", fields, hidden=["raw"]),
             data_view(ALERTS_VIEW, alerts_title, "Luister alerts", "opened_at", alert_fields())]
    charts = {
        "volume": xy("luister-volume-by-type", "Mentions per day by type", m, "type"),
        "sentiment": xy("luister-sentiment-over-time", "Sentiment over time", m, "sentiment", "area_stacked"),
        "sentiment_share": donut("luister-sentiment-share", "Sentiment share", m, "sentiment"),
        "personas": donut("luister-persona-mix", "Persona mix", m, "persona"),
        "brands": xy("luister-brand-by-type", "Mentions per brand by type", m, "type", x="brand"),
        "sources": xy("luister-source-by-channel", "Mentions per source, own or third-party", m, "channel",
                      x="source"),
        "overdue": metric("luister-overdue-count", "Replies overdue", m, "Overdue", overdue),
        "to_answer": metric("luister-should-respond-count", "Should get a reply", m, "To answer",
                            "should_respond: true"),
        "repeat": table("luister-repeat-negative", "Customers negative again and again", m, "customer_id",
                        "sentiment: negative", unique_of="source"),
        "negative": xy("luister-negative-by-brand", "Negative mentions per brand", m, "brand", "line",
                       "sentiment: negative"),
        "negative_sources": xy("luister-negative-by-source", "Negative mentions per source", m, "source",
                               "bar_stacked", "sentiment: negative"),
        "severe_share": metric("luister-severe-count", "Severe mentions (2+)", m, "Severity 2+", "severity >= 2"),
        "alerts": xy("luister-alerts-by-kind", "Alerts opened by kind", ALERTS_VIEW, "kind"),
    }
    searches = {
        "all": saved_search("luister-search-mentions", "Mentions", m, SEARCH_COLUMNS),
        "overdue": saved_search("luister-search-overdue", "Overdue replies", m, SEARCH_COLUMNS + ["respond_by"],
                                overdue, description="Should get a reply and are past respond_by."),
        "severe": saved_search("luister-search-severe", "Severe mentions", m, SEARCH_COLUMNS, "severity >= 2",
                               description="Severity 2 or 3: escalate to the people responsible."),
        "alerts": saved_search("luister-search-alerts", "Alerts", ALERTS_VIEW, ALERT_COLUMNS),
    }
    for name in sorted(set(watchlist_names)):
        searches[f"watchlist:{name}"] = saved_search(
            f"luister-watchlist-{name}", f"Watchlist: {name}", m, SEARCH_COLUMNS,
            filters=[watchlist_filter(watchlist_index, name)],
            description=f"Mentions by members of the watchlist '{name}' (luister watchlist show {name}).")
    webcare = dashboard("luister-webcare", "Luister — webcare", "Daily webcare: volume, sentiment, what needs an "
                        "answer, who keeps coming back.", [
                            (charts["to_answer"], 12, 8), (charts["overdue"], 12, 8),
                            (charts["sentiment_share"], 12, 8), (charts["personas"], 12, 8),
                            (charts["volume"], 24, 14), (charts["sentiment"], 24, 14),
                            (charts["brands"], 24, 14), (charts["sources"], 24, 14), (charts["repeat"], 24, 16),
                            (searches["overdue"], 24, 16), (searches["all"], 48, 18)])
    crisis = dashboard("luister-crisis", "Luister — crisis", "A sudden surge of negative mentions about one brand or "
                       "topic: where, how bad, which alerts are open.", [
                           (charts["severe_share"], 12, 8), (charts["negative"], 36, 14),
                           (charts["negative_sources"], 24, 14), (charts["alerts"], 24, 14),
                           (searches["severe"], 24, 16), (searches["alerts"], 24, 16)])
    return views + list(charts.values()) + list(searches.values()) + [webcare, crisis]


def to_ndjson(objects: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects)
