"""The worker's Faust topics, made from the one catalogue in core/topics.py (no auto-named topics).

Stage -> input -> output, with keys, partitions and retention: docs/operations.md, "Topics".
"""
from __future__ import annotations

from core.topics import TopicSpec, catalogue
from pipeline.app import app, settings
from pipeline.consumer import contiguous

SPECS = catalogue(settings)
contiguous(s.name for s in SPECS.values() if s.contiguous)


def _declare(*specs: TopicSpec):
    first = specs[0]
    policy = first.configs.get("cleanup.policy", "delete")
    retention_ms = first.configs.get("retention.ms")
    return app.topic(
        *(s.name for s in specs), key_type=bytes, value_type=bytes, partitions=first.partitions,
        # internal: Faust creates the topic (with these settings) when the worker starts
        internal=first.worker_creates, compacting="compact" in policy or None,
        deleting="delete" in policy if "compact" in policy else None,
        retention=int(retention_ms) / 1000 if retention_ms else None)


raw_mentions = _declare(SPECS["raw_mentions"])
normalized_mentions = _declare(SPECS["normalized_mentions"])
enriched_mentions = _declare(SPECS["enriched_mentions"])
classified_mentions = _declare(SPECS["classified_mentions"])
mentions_by_brand = _declare(SPECS["mentions_by_brand"])
mention_deletions = _declare(SPECS["mention_deletions"])
dead_letters = _declare(SPECS["dead_letters"])
alerts = _declare(SPECS["alerts"])
customer_profiles = _declare(SPECS["customer_profiles"])
# one stream over two topics, both keyed by customer: our own control records and `luister forget`'s
customer_orders = _declare(SPECS["customer_control"], SPECS["erase_requests"])
customer_control = _declare(SPECS["customer_control"])  # where customer_control writes its own orders
account_links = app.topic(SPECS["account_links"].name, key_type=bytes, value_type=bytes)
