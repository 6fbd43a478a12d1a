"""The explicit mapping of a mention document, versioned.

Free text is indexed three ways: `text` (standard analyzer, any language), `text.nl`
and `text.en` (stemmed with Dutch / English rules from the luister-analysis plugin,
see deploy/local/es-plugin), so analysts match "bezorgd"/"bezorging" and
"delivered"/"delivery". `dynamic: strict` turns any field the schema does not know
into a rejected document (dead-lettered with the reason) instead of silent drift.
"""
from __future__ import annotations

from typing import Any

from schemas import MessageType

MAPPING_VERSION = 1

DUTCH_ANALYZER = "luister_dutch"
ENGLISH_ANALYZER = "luister_english"

KEYWORD = {"type": "keyword", "ignore_above": 512}
DATE = {"type": "date"}
BOOL = {"type": "boolean"}


def _multilingual_text() -> dict[str, Any]:
    return {
        "type": "text",
        "analyzer": "standard",
        "fields": {
            "nl": {"type": "text", "analyzer": DUTCH_ANALYZER},
            "en": {"type": "text", "analyzer": ENGLISH_ANALYZER},
        },
    }


def mention_properties() -> dict[str, Any]:
    return {
        "schema_version": {"type": "short"},
        "id": KEYWORD,
        "source": KEYWORD,
        "channel": KEYWORD,
        "url": {"type": "keyword", "index": False, "ignore_above": 2048},
        "author": {
            "properties": {
                "handle": {"type": "keyword", "normalizer": "luister_lowercase", "ignore_above": 256},
                "display_name": {"type": "text", "fields": {"raw": KEYWORD}},
                "followers": {"type": "long"},
                "is_verified": BOOL,
            }
        },
        "text": _multilingual_text(),
        "lang_hint": KEYWORD,
        "created_at": DATE,
        "in_reply_to": KEYWORD,
        "brand": KEYWORD,
        "matched_keyword": KEYWORD,
        "ingested_at": DATE,
        "edited_at": DATE,
        "truncated": BOOL,
        "created_at_note": KEYWORD,
        "links": {"type": "keyword", "ignore_above": 2048},
        "link_titles": _multilingual_text(),
        "media_alt": _multilingual_text(),
        "raw": {"type": "object", "enabled": False},  # kept for audits, never searched
        "type": KEYWORD,
        "type_scores": {"properties": {t.value: {"type": "float"} for t in MessageType}},
        "sentiment": KEYWORD,
        "sentiment_score": {"type": "float"},
        "customer_id": KEYWORD,
        "persona": KEYWORD,
        "language": KEYWORD,
        "severity": {"type": "byte"},
        "flags": {"properties": {f: BOOL for f in ("profanity", "legal_threat", "safety", "press", "influencer",
                                                    "abusive", "claim", "data_leak")}},
        "tone": {"properties": {"formality": KEYWORD, "emoji": BOOL, "markers": KEYWORD}},
        "should_respond": BOOL,
        "respond_by": DATE,
        "suggested_reply": {"type": "text", "index": False},
        # triage (docs/triage.md)
        "labels": KEYWORD,
        "repeated_negativity": {"properties": {"earlier_ids": KEYWORD, "sources": KEYWORD, "sites": KEYWORD,
                                               "window_hours": {"type": "float"}, "rule": KEYWORD}},
        "persona_confidence": {"type": "float"},
        "persona_reason": {"type": "text", "fields": {"raw": KEYWORD}},
        "persona_change": {"properties": {"from_persona": KEYWORD, "to_persona": KEYWORD, "reason": {"type": "text"}}},
        "language_confidence": {"type": "float"},
        "severity_reasons": {"type": "text", "fields": {"raw": KEYWORD}},
        "profanity_terms": KEYWORD,
        "moderation": {"properties": {"action": KEYWORD, "reason": {"type": "text"}}},
        "respond_rule": KEYWORD,
        "model_version": KEYWORD,
        "processed_at": DATE,
        "pipeline_latency_ms": {"type": "float"},
        "indexed_at": DATE,  # set by the sink when it sends the document
    }


# half of Elasticsearch's default: at most this long from the bulk write to searchable (docs/benchmarks.md)
REFRESH_INTERVAL = "500ms"


def index_template(prefix: str, refresh_interval: str = REFRESH_INTERVAL) -> dict[str, Any]:
    """Template for the monthly indices `<prefix>-v<N>-<YYYY.MM>`, which join the read alias `<prefix>`.

    `refresh_interval`: how soon an indexed mention becomes searchable (setting `es_refresh_interval`).

    One template per mapping version (see sinks/elasticsearch/lifecycle.py): the priority grows
    with the version so it also wins over the pre-monthly template's broader `<prefix>-*`.
    """
    return {
        "index_patterns": [f"{prefix}-v{MAPPING_VERSION}-*"],
        "priority": 100 + MAPPING_VERSION,
        "version": MAPPING_VERSION,
        "_meta": {"owner": "luister", "mapping_version": MAPPING_VERSION},
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 0,  # one local node; raise on a real cluster
                "refresh_interval": refresh_interval,
                "analysis": {"normalizer": {"luister_lowercase": {"type": "custom", "filter": ["lowercase"]}}},
            },
            "aliases": {prefix: {}},  # the read alias over every month
            "mappings": {
                "dynamic": "strict",
                "_meta": {"mapping_version": MAPPING_VERSION},
                "properties": mention_properties(),
            },
        },
    }
