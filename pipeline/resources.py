"""What the worker's stages need that takes time or reads files, loaded once per process.

`load()` is called when the worker starts (pipeline/worker.py, Faust's `on_worker_init`), so a
broken model or triage file stops the worker before it joins the group; every getter also loads
on first use, so importing a stage module costs nothing and a test can use one piece alone.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import cache

from classifiers.base import Classification, Classifier
from core.settings import get_settings
from pipeline.customers.config import TriageConfig, load_triage_config
from pipeline.customers.follower import RegistryFollower
from pipeline.customers.registry import Registry, load_file

log = logging.getLogger(__name__)


@cache
def classifier() -> Classifier:
    from classifiers.e5.onnx_session import available_cores
    from classifiers.registry import load_classifier

    settings = get_settings()
    # batches in flight run side by side, each on its share of the cores (one ONNX thread per call on 2 cores
    # with 2 in flight: measured faster than one call on 2 threads, docs/benchmarks.md)
    threads = settings.classifier_threads or max(1, available_cores() // settings.classify_in_flight)
    return load_classifier(settings.classifier, threads=threads)


@cache
def classify_batch() -> Callable[[Sequence[str], Sequence[str | None]], list[Classification]]:
    """The classifier's batch call, behind the recent-texts cache when it is on."""
    from classifiers.recent import RecentTexts

    size = get_settings().classify_cache_size
    return RecentTexts(classifier(), size).classify_batch if size else classifier().classify_batch


@cache
def triage() -> TriageConfig:
    return load_triage_config(get_settings().triage_config)


@cache
def registry() -> Registry:
    """Linked identities: the registry file now; the index and the topic when the worker runs."""
    settings = get_settings()
    links = Registry()
    if settings.customer_registry_file:
        links.extend(load_file(settings.customer_registry_file))
    return links


@cache
def follower() -> RegistryFollower:
    settings = get_settings()
    return RegistryFollower(registry(), settings.kafka_bootstrap, settings.topic_customers)


def load() -> None:
    """Everything above, now (the worker calls this before it starts its agents)."""
    started = time.perf_counter()
    model = classifier()
    classify_batch()
    triage()
    follower()
    log.info("worker resources loaded", extra={"model_version": model.model_version, "links": len(registry()),
                                               "seconds": round(time.perf_counter() - started, 2)})
