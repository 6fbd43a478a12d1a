"""End to end with the transformer classifier: Kafka -> Faust worker (model in an executor) -> Elasticsearch."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from connectors.publisher import MentionPublisher
from connectors.synthetic import generate
from harness.wait import wait_for

pytestmark = pytest.mark.e2e

N = 40


@pytest.fixture(scope="module")
def isolated_env(isolated_env) -> Iterator[dict[str, str]]:
    """The shared per-module environment, with the transformer as the worker's classifier."""
    isolated_env["LUISTER_CLASSIFIER"] = "transformer"
    yield isolated_env


def test_worker_classifies_with_the_transformer_and_indexes_its_version(worker, settings):
    from classifiers.transformer import TransformerClassifier

    expected_version = TransformerClassifier(with_language=False).model_version
    mentions = [m for m, _label in generate(N, seed=11)]
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as pub:
        for m in mentions:
            pub.publish(m)
    es = Elasticsearch(settings.es_url)
    alias = settings.es_write_alias

    def count() -> int:
        if not es.indices.exists_alias(name=alias):
            return 0
        es.indices.refresh(index=alias)
        return es.count(index=alias)["count"]

    wait_for(lambda: count() == N, timeout=180, what=f"{N} documents classified by the transformer")
    hits = es.search(index=alias, size=N, query={"match_all": {}})["hits"]["hits"]
    assert {h["_source"]["model_version"] for h in hits} == {expected_version}
    assert len({h["_source"]["type"] for h in hits}) >= 3
    assert worker.alive()
