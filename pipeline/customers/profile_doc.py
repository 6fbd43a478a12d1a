"""The customer profile as analysts read it back: one Elasticsearch document per customer
(`_id` = customer_id), rewritten whole on every change. Pure: mapping and document."""
from __future__ import annotations

from typing import Any

from pipeline.customers.config import HistoryLimits
from pipeline.customers.state import CustomerState, windows

KEYWORD = {"type": "keyword", "ignore_above": 512}
DATE = {"type": "date"}


def customers_mapping() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "properties": {
            "customer_id": KEYWORD, "name": {"type": "text", "fields": {"raw": KEYWORD}},
            "accounts": KEYWORD, "accounts_count": {"type": "short"}, "sources": KEYWORD,
            "first_seen": DATE, "last_seen": DATE, "mentions": {"type": "integer"},
            "persona": KEYWORD, "persona_confidence": {"type": "float"}, "persona_reason": {"type": "text"},
            "persona_since": DATE, "repeated_negativity": {"type": "integer"},
            "totals": {"type": "flattened"}, "windows": {"type": "flattened"}, "daily": {"type": "flattened"},
            "transitions": {"type": "nested", "properties": {
                "at": DATE, "mention_id": KEYWORD, "from_persona": KEYWORD, "to_persona": KEYWORD,
                "reason": {"type": "text"}}},
            "timeline": {"type": "nested", "properties": {
                "id": KEYWORD, "at": DATE, "source": KEYWORD, "site": KEYWORD, "channel": KEYWORD,
                "account": KEYWORD, "brand": KEYWORD, "type": KEYWORD, "sentiment": KEYWORD, "severity": {"type": "byte"},
                "persona": KEYWORD, "repeated_negativity": {"type": "boolean"}, "snippet": {"type": "text"},
                "url": {"type": "keyword", "index": False}}},
            "updated_at": DATE,
            "indexed_at": DATE,
        },
    }


def profile_document(state: CustomerState, limits: HistoryLimits, *, name: str | None = None,
                     updated_at: str | None = None) -> dict[str, Any]:
    def iso(value) -> str | None:
        return value.isoformat() if value else None

    return {
        "customer_id": state.customer_id,
        **({"name": name} if name else {}),
        "accounts": state.accounts,
        "accounts_count": len(state.accounts),
        "sources": sorted({a.partition(":")[0] for a in state.accounts}),
        "first_seen": iso(state.first_seen), "last_seen": iso(state.last_seen),
        "mentions": state.totals.get("n", 0),
        "persona": state.persona.value if state.persona else None,
        "persona_confidence": state.persona_confidence, "persona_reason": state.persona_reason,
        "persona_since": iso(state.persona_since),
        "repeated_negativity": state.repeated_negativity,
        "totals": {k: str(v) for k, v in state.totals.items()},
        "windows": {w: {k: str(v) for k, v in c.items()} for w, c in windows(state, limits).items()},
        "daily": {d: {k: str(v) for k, v in c.items()} for d, c in state.daily.items()},
        "transitions": [t.model_dump(mode="json") for t in state.transitions],
        "timeline": [{
            "id": i.id, "at": iso(i.at), "source": i.source, "site": i.site, "channel": i.channel,
            "account": i.account, "brand": i.brand, "type": i.type, "sentiment": i.sentiment, "severity": i.severity,
            "persona": i.verdict.persona.value if i.verdict else None,
            "repeated_negativity": bool(i.verdict and i.verdict.repeated), "snippet": i.snippet, "url": i.url,
        } for i in sorted(state.recent, key=lambda i: (i.at, i.seq))],
        "updated_at": updated_at,
    }
