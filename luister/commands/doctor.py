"""`luister doctor`: check Kafka, Elasticsearch and the classifier, and say what is wrong in plain words.

Each check gives one line: `ok`, `warn` (works, but worth a look) or `FAIL` (the pipeline
will not work until it is fixed) with what to do. Exit code 0 when nothing failed, 1 otherwise,
so a deployment can run it as an init container or a smoke test.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import click

from core.redact import redact_url
from core.settings import DEFAULT_AUDIT_KEY, Settings

Status = Literal["ok", "warn", "FAIL"]
SAMPLE = ("Mijn pakket is al een week niet bezorgd en niemand reageert!", "nl")


@dataclass(frozen=True)
class Finding:
    status: Status
    message: str


def ok(message: str) -> Finding:
    return Finding("ok", message)


def warn(message: str) -> Finding:
    return Finding("warn", message)


def fail(message: str) -> Finding:
    return Finding("FAIL", message)


def render(section: str, findings: list[Finding]) -> str:
    return "\n".join([section, *(f"  {f.status:<4}  {f.message}" for f in findings)])


def summary(findings: list[Finding]) -> str:
    failed = sum(f.status == "FAIL" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    if failed:
        return f"{failed} problem(s) found{f' and {warned} warning(s)' if warned else ''}: fix the FAIL lines above."
    return f"All checks passed{f' ({warned} warning(s))' if warned else ''}."


# ------------------------------------------------------------------ Kafka

def check_kafka(settings: Settings, timeout: float) -> Iterator[Finding]:
    from kafka import KafkaAdminClient

    from core.kafka_admin import topic_names

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="luister-doctor",
                                 request_timeout_ms=int(timeout * 1000), bootstrap_timeout_ms=int(timeout * 1000))
    except Exception as exc:  # noqa: BLE001 - any failure here is "cannot reach"
        yield fail(f"cannot reach Kafka at {settings.kafka_bootstrap} ({type(exc).__name__}: {exc}). Is the broker "
                   f"running and is LUISTER_KAFKA_BOOTSTRAP right? Locally: `luister services status`.")
        return
    try:
        cluster = admin.describe_cluster()
        brokers = cluster.get("brokers", [])
        yield ok(f"broker answers at {settings.kafka_bootstrap}: {len(brokers)} broker(s) in cluster "
                 f"{cluster.get('cluster_id')}")
        if len(brokers) < settings.topic_replication:
            yield fail(f"topic_replication is {settings.topic_replication} but the cluster has {len(brokers)} "
                       f"broker(s): topics cannot be created. Lower LUISTER_TOPIC_REPLICATION or add brokers.")
        wanted = topic_names(settings)
        described = {t["name"]: t for t in admin.describe_topics(wanted)}
        missing = [name for name in wanted if described.get(name, {}).get("error_code", 3) != 0]
        if missing:
            yield fail(f"topic(s) missing: {', '.join(missing)}. Run `luister setup` to create them.")
        for name in wanted:
            if name in missing:
                continue
            partitions = described[name]["partitions"]
            offline = [p["partition_index"] for p in partitions if p.get("leader_id", -1) < 0]
            if offline:
                yield fail(f"topic {name}: partition(s) {offline} have no leader; the broker holding them is down.")
            elif len(partitions) < settings.topic_partitions:
                yield warn(f"topic {name} has {len(partitions)} partition(s), fewer than topic_partitions "
                           f"({settings.topic_partitions}): at most {len(partitions)} worker(s) share its work.")
            else:
                yield ok(f"topic {name}: {len(partitions)} partition(s)")
        yield from _group_lag(admin, settings, [n for n in wanted if n not in missing], described)
    except Exception as exc:  # noqa: BLE001
        yield fail(f"Kafka answered but a request failed: {type(exc).__name__}: {exc}")
    finally:
        admin.close()


def _group_lag(admin, settings: Settings, topics: list[str], described: dict) -> Iterator[Finding]:
    from kafka import KafkaConsumer, TopicPartition

    tps = [TopicPartition(t, p["partition_index"]) for t in topics for p in described[t]["partitions"]]
    committed = admin.list_group_offsets({settings.app_id: tps}).get(settings.app_id, {})
    if not any(meta.offset >= 0 for meta in committed.values()):
        yield warn(f"consumer group {settings.app_id} has committed nothing yet: no worker has run (start one "
                   f"with `luister worker`).")
        return
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="luister-doctor")
    try:
        ends = consumer.end_offsets(tps)
    finally:
        consumer.close()
    lag = sum(max(0, end - max(committed[tp].offset, 0)) for tp, end in ends.items() if tp in committed)
    yield ok(f"consumer group {settings.app_id}: {lag} message(s) not yet processed")


# ------------------------------------------------------------------ Elasticsearch

def check_elasticsearch(settings: Settings, timeout: float) -> Iterator[Finding]:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(settings.es_url, request_timeout=timeout, max_retries=0)
    where = redact_url(settings.es_url)
    try:
        health = es.cluster.health()
        nodes = es.nodes.info(filter_path="nodes.*.version")["nodes"]  # `GET /` is not in every distribution
    except Exception as exc:  # noqa: BLE001
        yield fail(f"cannot reach Elasticsearch at {where} ({type(exc).__name__}: {str(exc)[:200]}). Is the node "
                   f"running, and are LUISTER_ES_URL and its credentials right?")
        return
    try:
        status = health["status"]
        versions = sorted({n["version"] for n in nodes.values()})
        text = (f"cluster {health['cluster_name']} is {status} ({health['number_of_nodes']} node(s), "
                f"Elasticsearch {', '.join(versions)})")
        if status == "red":
            yield fail(text + ": some primary shards are unassigned, writes to them fail.")
        elif status == "yellow":
            yield warn(text + ": replicas unassigned (normal on a single node).")
        else:
            yield ok(text)
        yield _analysis_plugin(es)
        prefix = settings.es_index_prefix
        templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*").body
        names = [t["name"] for t in templates.get("index_templates", [])] if isinstance(templates, dict) else []
        if names:
            yield ok(f"index template(s) {', '.join(sorted(names))} present")
        else:
            yield fail(f"no index template for {prefix}: run `luister setup` (a worker also creates it at start).")
        if es.indices.exists_alias(name=settings.es_write_alias):
            count = es.count(index=settings.es_write_alias)["count"]
            yield ok(f"alias {settings.es_write_alias} answers: {count} mention(s) indexed")
        else:
            yield fail(f"alias {settings.es_write_alias} does not exist: run `luister setup`.")
    except Exception as exc:  # noqa: BLE001
        yield fail(f"Elasticsearch answered but a request failed: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        es.close()


def _analysis_plugin(es) -> Finding:
    from sinks.elasticsearch.mapping import DUTCH_ANALYZER, ENGLISH_ANALYZER

    try:
        nl = [t["token"] for t in es.indices.analyze(analyzer=DUTCH_ANALYZER, text="klachten")["tokens"]]
        en = [t["token"] for t in es.indices.analyze(analyzer=ENGLISH_ANALYZER, text="deliveries")["tokens"]]
    except Exception as exc:  # noqa: BLE001
        return fail(f"the Dutch/English analyzers ({DUTCH_ANALYZER}, {ENGLISH_ANALYZER}) are missing: install the "
                    f"luister-analysis plugin (deploy/local/es-plugin; the compose image builds it). "
                    f"Elasticsearch said: {str(exc)[:200]}")
    return ok(f"analysis plugin works: {DUTCH_ANALYZER} 'klachten' -> {nl}, {ENGLISH_ANALYZER} 'deliveries' -> {en}")


# ------------------------------------------------------------------ classifier

def check_classifier(settings: Settings, load: Callable | None = None) -> Iterator[Finding]:
    from classifiers.registry import load_classifier

    started = time.perf_counter()
    try:
        classifier = (load or load_classifier)(settings.classifier)
    except Exception as exc:  # noqa: BLE001
        yield fail(f"the classifier {settings.classifier!r} does not load: {type(exc).__name__}: {str(exc)[:300]}")
        return
    loaded = time.perf_counter() - started
    try:
        started = time.perf_counter()
        result = classifier.classify_batch([SAMPLE[0]], [SAMPLE[1]])[0]
        took = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001
        yield fail(f"the classifier {classifier.model_version} loaded but failed on a test mention: "
                   f"{type(exc).__name__}: {str(exc)[:300]}")
        return
    yield ok(f"{settings.classifier} loads ({classifier.model_version}, {loaded:.1f}s) and classifies a test "
             f"complaint as {result.type.value}/{result.sentiment.value} in {took * 1000:.0f} ms")


# ------------------------------------------------------------------ secrets

def check_secrets(settings: Settings) -> Iterator[Finding]:
    """Secrets that still have their public default."""
    if settings.audit_hmac_key.get_secret_value() == DEFAULT_AUDIT_KEY:
        yield fail("audit_hmac_key is the public default: anyone can recompute the hashed ids in the audit "
                   "index. Set LUISTER_AUDIT_HMAC_KEY (or audit_hmac_key in the config file) to a long random "
                   "secret, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")
    else:
        yield ok("audit_hmac_key is set (not the default)")


# ------------------------------------------------------------------ command

CHECKS = ("kafka", "elasticsearch", "classifier", "secrets")


@click.command(name="doctor")
@click.option("--only", "only", type=click.Choice(CHECKS), multiple=True,
              help="Run only this check (repeatable). Default: all.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for each service.")
@click.pass_obj
def doctor(settings: Settings, only: tuple[str, ...], timeout: float) -> None:
    """Check the connections to Kafka and Elasticsearch and that the classifier loads; say what is wrong.

    Exit code 0 when nothing failed (warnings allowed), 1 otherwise.
    """
    chosen = only or CHECKS
    for noisy in ("kafka", "elastic_transport", "elasticsearch", "urllib3"):  # the findings say it in plain words
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    runs = {
        "kafka": (f"Kafka ({settings.kafka_bootstrap})", lambda: check_kafka(settings, timeout)),
        "elasticsearch": (f"Elasticsearch ({redact_url(settings.es_url)})", lambda: check_elasticsearch(settings, timeout)),
        "classifier": (f"Classifier ({settings.classifier})", lambda: check_classifier(settings)),
        "secrets": ("Secrets", lambda: check_secrets(settings)),
    }
    everything: list[Finding] = []
    for name in CHECKS:
        if name not in chosen:
            continue
        title, run = runs[name]
        click.echo(f"checking {title} ...", err=True)
        findings = list(run())
        everything += findings
        click.echo(render(title, findings))
    click.echo("")
    click.echo(summary(everything))
    raise SystemExit(1 if any(f.status == "FAIL" for f in everything) else 0)


COMMANDS = [doctor]
