"""Shared fixtures. End-to-end tests run against the real local Kafka broker and
Elasticsearch node, which the session starts itself (never skipped when absent)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from luister.config import Settings
from tests.support import Worker, drop_index_family, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def services() -> None:
    """Start (or reuse) Kafka and Elasticsearch; fail loudly if they cannot start."""
    result = subprocess.run([sys.executable, str(ROOT / "deploy" / "local" / "services.py"), "up"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"could not start the local services:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="module")
def isolated_env(services) -> Iterator[dict[str, str]]:
    """Topic names, consumer group and index unique to one test module."""
    tag = uuid.uuid4().hex[:8]
    env = {
        "LUISTER_APP_ID": f"luister-test-{tag}",
        "LUISTER_TOPIC_RAW": f"test-{tag}.raw",
        "LUISTER_TOPIC_NORMALIZED": f"test-{tag}.normalized",
        "LUISTER_TOPIC_CLASSIFIED": f"test-{tag}.classified",
        "LUISTER_TOPIC_DLQ": f"test-{tag}.dlq",
        "LUISTER_TOPIC_ALERTS": f"test-{tag}.alerts",
        "LUISTER_TOPIC_PARTITIONS": "3",
        "LUISTER_ES_INDEX_PREFIX": f"luister-test-{tag}",
        "LUISTER_TOPIC_CUSTOMERS": f"test-{tag}.customers",  # the registry of linked identities
        "LUISTER_TOPIC_ERASE": f"test-{tag}.erase",  # erase requests: the profile agent forgets the customer
        "LUISTER_ES_CUSTOMERS_INDEX": f"luister-test-{tag}.customers",
        "LUISTER_WORKER_DATA_DIR": str(ROOT / ".cache" / "test-faust" / tag),
        "LUISTER_BATCH_WITHIN_SECONDS": "0.2",
        "LUISTER_ES_SINK_WITHIN_SECONDS": "0.3",
        # the rule-based baseline: fast, stable answers; tests/test_model_pipeline.py runs the transformer
        "LUISTER_CLASSIFIER": "baseline",
    }
    yield env
    _cleanup(env)


def _cleanup(env: dict[str, str]) -> None:
    drop_index_family(Settings().es_url, env["LUISTER_ES_INDEX_PREFIX"])
    _drop_topics(env["LUISTER_APP_ID"].removeprefix("luister-test-"))
    from elasticsearch import Elasticsearch

    Elasticsearch(Settings().es_url).options(ignore_status=404).indices.delete(index=env["LUISTER_ES_CUSTOMERS_INDEX"])


def _drop_topics(tag: str) -> None:
    """A module's topics (and Faust's changelog/assignor topics of its app id) go with it, so the
    local broker does not collect thousands of topics over many runs."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=Settings().kafka_bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith((f"test-{tag}.", f"luister-test-{tag}"))]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


@pytest.fixture(scope="module")
def settings(isolated_env) -> Settings:
    return Settings(**{k.removeprefix("LUISTER_").lower(): v for k, v in isolated_env.items()})


@pytest.fixture(scope="module")
def worker(isolated_env, settings, tmp_path_factory) -> Iterator[Worker]:
    from luister.kafka_admin import create_topics

    create_topics(settings)
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    w = Worker(env={**os.environ, **isolated_env}, log_path=log_path, web_port=free_port())
    w.start()
    yield w
    w.stop()
