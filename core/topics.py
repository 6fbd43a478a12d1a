"""Every Kafka topic Luister uses, declared once: what it carries, its key, and how Kafka keeps it.

The worker turns these specs into Faust topics (pipeline/topics.py); `luister topics create`, the
demo, the CLI and the tests create the ones the outside world writes with `core.kafka_admin`. A
table of them, stage by stage, is in docs/operations.md ("Topics"). Pure: names come from Settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.settings import Settings

DAY_MS = 24 * 3600 * 1000
# kept a month: someone has to look at dead letters; erase requests name a person, so they go after a month
MONTH_MS = 30 * DAY_MS
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": str(6 * 3600 * 1000)}


@dataclass(frozen=True)
class TopicSpec:
    role: str  # the name the code uses for it
    name: str  # the Kafka topic name (from Settings)
    carries: str
    key: str
    written_by: str
    read_by: str
    partitions: int
    replication: int
    configs: dict[str, str] = field(default_factory=dict)
    # written without transactions and never compacted, so its offsets arrive one by one
    # (pipeline/consumer.py holds back a record that lands past an unprocessed one)
    contiguous: bool = False
    # created by the worker (Faust, from the app's partition count) rather than ahead of it
    worker_creates: bool = False

    @property
    def compacted(self) -> bool:
        return "compact" in self.configs.get("cleanup.policy", "")


def catalogue(settings: Settings) -> dict[str, TopicSpec]:
    """Every topic by role, in pipeline order."""
    parts, repl = settings.topic_partitions, settings.topic_replication

    def spec(role: str, name: str, carries: str, key: str, written_by: str, read_by: str, **kw) -> TopicSpec:
        kw.setdefault("partitions", parts)
        return TopicSpec(role, name, carries, key, written_by, read_by, replication=repl, **kw)

    specs = [
        spec("raw_mentions", settings.topic_raw, "RawMention JSON as connectors publish it", "account (source:handle)",
             "connectors, `luister replay`", "normalize", contiguous=True),
        spec("normalized_mentions", settings.topic_normalized, "the raw record, unchanged, re-keyed",
             "customer id", "normalize", "classify", contiguous=True),
        spec("enriched_mentions", settings.topic_enriched, "ClassifiedMention before customer state",
             "customer id", "classify", "profile", contiguous=True, worker_creates=True),
        spec("classified_mentions", settings.topic_classified, "ClassifiedMention, final",
             "customer id", "profile", "index, crisis_rekey", contiguous=True),
        spec("mentions_by_brand", settings.crisis.topic_by_brand, "ClassifiedMention, final", "brand",
             "crisis_rekey", "crisis_detect", contiguous=True, worker_creates=True),
        spec("mention_deletions", settings.topic_deletions, "MentionDeletion: which mention is gone (no content)",
             "mention id", "normalize", "forget_deleted", contiguous=True, worker_creates=True),
        spec("dead_letters", settings.topic_dlq, "DeadLetter JSON: stage, reason, original bytes",
             "dead-letter id", "every stage, connectors", "people (Kibana, kafka-console-consumer)",
             configs={"retention.ms": str(MONTH_MS)}),
        spec("alerts", settings.topic_alerts, "Alert JSON, every version", "alert id",
             "crisis_detect", "alert delivery (one group per destination)"),
        spec("customer_profiles", settings.topic_profiles, "customer profile documents (null: erased)",
             "customer id", "profile, customer_control", "index_profiles",
             configs={"cleanup.policy": "compact"}, worker_creates=True),
        spec("customer_control", settings.topic_customer_control, "erase/move/absorb orders for customer state",
             "customer id or account", "customer_control, `luister customers link`", "customer_control",
             configs={"cleanup.policy": "compact,delete", "retention.ms": str(MONTH_MS)}, worker_creates=True),
        spec("erase_requests", settings.topic_erase, "erase requests from `luister forget`", "customer id",
             "`luister forget`", "customer_control",
             configs={"cleanup.policy": "compact,delete", "retention.ms": str(MONTH_MS)}, worker_creates=True),
        spec("account_links", settings.topic_customers, "account -> customer links (null: unlinked)",
             "account (source:handle)", "`luister customers link`, customer_control",
             "every worker, whole (registry follower)", configs=dict(COMPACTED)),
        checkpoints_spec(settings.topic_connector_checkpoints, repl),
    ]
    return {s.role: s for s in specs}


def checkpoints_spec(name: str, replication: int) -> TopicSpec:
    """Connectors' cursors: one partition (a connector reads it whole at start), compacted."""
    return TopicSpec("connector_checkpoints", name, "a connector's last cursor", "connector instance",
                     "connectors", "connectors at start", partitions=1, replication=replication,
                     configs={"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "3600000"})
