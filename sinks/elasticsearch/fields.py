"""The mapping as a flat field list: what search filters, report sections and Kibana objects
are built on, so they follow as fields are added to mapping.py."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sinks.elasticsearch.mapping import mention_properties

# Types a filter can match exactly (term/terms/range); text is searched, not filtered.
EXACT_TYPES = frozenset({"keyword", "boolean", "byte", "short", "integer", "long", "float", "double", "date"})
NUMERIC_TYPES = frozenset({"byte", "short", "integer", "long", "float", "double"})
# Fields that would record a reply to a mention, when a reply tracker adds one to the mapping.
REPLY_FIELDS = ("replied_at", "responded_at", "answered_at", "reply.at")


def flatten(properties: Mapping[str, Any], parent: str = "") -> dict[str, str]:
    """`{"author.handle": "keyword", "text.nl": "text", "flags": "object", …}` for a properties tree."""
    out: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{parent}{name}"
        if "properties" in spec:
            out[path] = "object"
            out.update(flatten(spec["properties"], f"{path}."))
            continue
        out[path] = spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            out[f"{path}.{sub}"] = sub_spec.get("type", "object")
    return out


def mention_fields() -> dict[str, str]:
    return flatten(mention_properties())


def is_searchable(properties: Mapping[str, Any], path: str) -> bool:
    """False for fields mapped with `index: false` or `enabled: false` (kept, never searched)."""
    node: Mapping[str, Any] = {"properties": properties}
    for part in path.split("."):
        children = node.get("properties") or node.get("fields") or {}
        if part not in children:
            return False
        node = children[part]
        if node.get("index") is False or node.get("enabled") is False:
            return False
    return True


def filterable(fields: Mapping[str, str]) -> list[str]:
    return sorted(f for f, t in fields.items() if t in EXACT_TYPES and is_searchable(mention_properties(), f))


def reply_fields(fields: Mapping[str, str]) -> list[str]:
    return [f for f in REPLY_FIELDS if f in fields]
