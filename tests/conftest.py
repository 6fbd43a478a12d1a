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

from core.settings import Settings
from harness.isolation import drop_isolated, settings_from_env
from harness.isolation import isolated_env as isolated_names
from harness.net import free_port
from harness.worker import WorkerProcess

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
        **isolated_names(f"test-{tag}", partitions=3, data_dir=ROOT / ".cache" / "test-faust" / tag),
        "LUISTER_BATCH_WITHIN_SECONDS": "0.2",
        "LUISTER_ES_SINK_WITHIN_SECONDS": "0.3",
        # the rule-based baseline: fast, stable answers; tests/test_model_pipeline.py runs the transformer
        "LUISTER_CLASSIFIER": "baseline",
    }
    yield env
    # a module's topics (and Faust's changelog/assignor topics of its app id) go with it, so the
    # local broker does not collect thousands of topics over many runs
    drop_isolated(env, (f"test-{tag}.", f"luister-test-{tag}"))


@pytest.fixture(scope="module")
def settings(isolated_env) -> Settings:
    return settings_from_env(isolated_env)


@pytest.fixture(scope="module")
def worker(isolated_env, settings, tmp_path_factory) -> Iterator[WorkerProcess]:
    from core.kafka_admin import create_topics

    create_topics(settings)
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    w = WorkerProcess(env={**os.environ, **isolated_env}, log_path=log_path, web_port=free_port())
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def es(settings):
    from elasticsearch import Elasticsearch

    return Elasticsearch(settings.es_url)


@pytest.fixture(scope="module")
def raw_sink(settings):
    """What a live connector publishes with: mentions and deletions to the raw topic, rejects to the DLQ."""
    from connectors.runtime.sink import KafkaMentionSink

    out = KafkaMentionSink(settings.kafka_bootstrap, settings.topic_raw, settings.topic_dlq)
    yield out
    out.close()
