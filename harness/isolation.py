"""Names unique to one run (a test module, a benchmark scenario) on the shared local services:
topics, consumer group, indices and the worker's data dir, as LUISTER_* variables; and their removal."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from core.settings import Settings


def isolated_env(prefix: str, *, partitions: int, data_dir: Path, raw_topic: str | None = None) -> dict[str, str]:
    """LUISTER_* variables that give a worker, the CLI and the tests their own names under `prefix`."""
    return {
        "LUISTER_APP_ID": f"luister-{prefix}",
        "LUISTER_TOPIC_RAW": raw_topic or f"{prefix}.raw",
        "LUISTER_TOPIC_NORMALIZED": f"{prefix}.normalized",
        "LUISTER_TOPIC_CLASSIFIED": f"{prefix}.classified",
        "LUISTER_TOPIC_DLQ": f"{prefix}.dlq",
        "LUISTER_TOPIC_ALERTS": f"{prefix}.alerts",
        "LUISTER_TOPIC_CUSTOMERS": f"{prefix}.customers",  # the registry of linked identities
        "LUISTER_TOPIC_ERASE": f"{prefix}.erase",  # erase requests: the profile agent forgets the customer
        "LUISTER_TOPIC_PARTITIONS": str(partitions),
        "LUISTER_ES_INDEX_PREFIX": f"luister-{prefix}",
        "LUISTER_ES_CUSTOMERS_INDEX": f"luister-{prefix}.customers",
        "LUISTER_ES_ALERTS_INDEX": f"luister-{prefix}.alerts",
        "LUISTER_ES_DELETIONS_INDEX": f"luister-{prefix}.deletions",
        "LUISTER_WORKER_DATA_DIR": str(data_dir),
    }


def settings_from_env(env: dict[str, str]) -> Settings:
    """The Settings a process started with these LUISTER_* variables would see: read as environment
    variables, so nested sections (LUISTER_CRISIS__P_OPEN, LUISTER_ALERTS__SLACK_URL) work too."""
    from unittest import mock

    with mock.patch.dict(os.environ, {k: v for k, v in env.items() if k.startswith("LUISTER_")}):
        return Settings()


def drop_index_family(es_url: str, prefix: str) -> None:
    """Delete a run's mention indices and templates (wildcard deletes are refused by default)."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(es_url)
    names = list(es.options(ignore_status=404).indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))
    es.options(ignore_status=404).indices.delete_index_template(name=prefix)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-v*")  # one per mapping version


def drop_isolated(env: dict[str, str], topic_prefixes: tuple[str, ...]) -> None:
    """Remove what a run made: its indices (mentions, customers, alerts), the topics whose names start
    with one of `topic_prefixes` (Faust's changelog and assignor topics of its app id too) and its data dir."""
    from elasticsearch import Elasticsearch
    from kafka import KafkaAdminClient

    settings = settings_from_env(env)
    drop_index_family(settings.es_url, settings.es_index_prefix)
    es = Elasticsearch(settings.es_url)
    for name in (settings.es_customers_index, settings.es_alerts_index, settings.es_deletions_index):  # an alias (alerts) resolves to indices
        found = es.options(ignore_status=404).indices.get(index=f"{name}*", expand_wildcards="all").body
        if found:
            es.indices.delete(index=",".join(found))
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="luister-harness")
    try:
        mine = [t for t in admin.list_topics() if t.startswith(topic_prefixes)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()
    shutil.rmtree(settings.worker_data_dir, ignore_errors=True)
