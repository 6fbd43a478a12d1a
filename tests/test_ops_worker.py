"""A running worker is observable: /metrics during demo-like traffic, /healthz, /readyz, JSON logs
that follow one mention id through the stages, and `luister doctor` against the real services."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from prometheus_client.parser import text_string_to_metric_families

from connectors.file_replay import FileReplayConnector
from connectors.publisher import MentionPublisher
from core.kafka_admin import end_offsets
from core.settings import Settings
from harness.net import free_port
from harness.wait import wait_for
from harness.worker import WorkerProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "mentions.jsonl"
SAMPLE_VALID, SAMPLE_BAD = 520, 6

@pytest.fixture(scope="module")
def ops_env(isolated_env) -> dict[str, str]:
    return {**isolated_env, "LUISTER_LOG_FORMAT": "json", "LUISTER_LOG_MENTIONS": "true",
            "LUISTER_METRICS_INTERVAL_SECONDS": "1", "LUISTER_CLASSIFIER": "baseline"}


@pytest.fixture(scope="module")
def ops_settings(ops_env) -> Settings:
    return Settings(**{k.removeprefix("LUISTER_").lower(): v for k, v in ops_env.items()})


@pytest.fixture(scope="module")
def ops_worker(ops_env, ops_settings, tmp_path_factory):
    from core.kafka_admin import create_topics

    create_topics(ops_settings)
    w = WorkerProcess(env={**os.environ, **ops_env}, log_path=tmp_path_factory.mktemp("ops") / "worker.log",
               web_port=free_port())
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def stages(ops_env) -> dict[str, list[str]]:
    """{stage: input topics} of every agent the worker runs, read from the app itself."""
    script = ("import json; from pipeline.worker import app; from core.metrics import stage_of; "
              "print(json.dumps({stage_of(a.name): sorted(getattr(a.channel, 'topics', ()) and "
              "[str(t) for t in a.channel.topics]) for a in app.agents.values()}))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, **ops_env}, check=False,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def scrape(worker: WorkerProcess) -> dict[str, dict[tuple, float]]:
    """{series name: {sorted label items: value}} from the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    series: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return series


def value(series, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for key, v in series.get(name, {}).items() if set(labels.items()) <= set(key))


def _es_count(settings: Settings) -> int:
    es = Elasticsearch(settings.es_url)
    if not es.indices.exists_alias(name=settings.es_write_alias):
        return 0
    es.indices.refresh(index=settings.es_write_alias)
    return es.count(index=settings.es_write_alias)["count"]


def test_metrics_during_demo_traffic_are_non_zero_for_every_stage(ops_worker, ops_settings, stages):
    # the demo's traffic: the bundled sample (520 mentions + 6 bad records), replayed into the raw topic
    scrapes: list[dict] = []
    with MentionPublisher(ops_settings.kafka_bootstrap, ops_settings.topic_raw) as publisher:
        sender = threading.Thread(target=FileReplayConnector(SAMPLE).run, args=(publisher,),
                                  kwargs={"rate_per_second": 200.0})
        sender.start()
        while sender.is_alive():
            scrapes.append(scrape(ops_worker))  # scraping under load works and parses
            sender.join(timeout=0.5)
    assert scrapes

    wait_for(lambda: _es_count(ops_settings) == SAMPLE_VALID, timeout=120, what="the sample to be indexed")
    # gauges refresh every metrics_interval_seconds (1 s here): wait for lag to drain and tables to show
    try:
        series = wait_for(lambda: (s := scrape(ops_worker)) and value(s, "luister_consumer_lag_messages") == 0
                          and value(s, "luister_table_keys") > 0 and s, timeout=60, what="lag 0 and table sizes")
    except AssertionError as exc:
        last = scrape(ops_worker)
        lagging = {k: v for k, v in last["luister_consumer_lag_messages"].items() if v}
        raise AssertionError(f"{exc}: lag {lagging}, tables {last.get('luister_table_keys')}") from None

    # records in: every stage whose input topics got records took some (erase or alert stages may get none)
    assert {"normalize", "classify", "index"} <= stages.keys()
    for stage, topics in stages.items():
        if not sum(sum(end_offsets(ops_settings.kafka_bootstrap, t).values()) for t in topics):
            continue
        assert value(series, "luister_stage_received_total", stage=stage) > 0, f"stage {stage} received nothing"
    assert value(series, "luister_stage_received_total", stage="normalize") >= SAMPLE_VALID + SAMPLE_BAD
    # records out, per stage and outcome
    for stage in ("normalize", "classify", "index"):
        assert value(series, "luister_stage_events_total", stage=stage, outcome="ok") >= SAMPLE_VALID, stage
        assert value(series, "luister_stage_batch_seconds_count", stage=stage) > 0, stage
    assert value(series, "luister_stage_events_total", stage="normalize", outcome="dlq") == SAMPLE_BAD
    reasons = {dict(k)["reason"] for k, v in series["luister_dead_letters_total"].items() if v > 0}
    assert {"malformed_json", "schema_violation", "oversized", "undecodable"} <= reasons
    assert value(series, "luister_stage_errors_total") == 0
    # latency, model, Elasticsearch
    assert value(series, "luister_publish_to_indexed_seconds_count") >= SAMPLE_VALID
    assert value(series, "luister_model_batch_size_sum", classifier="baseline") == SAMPLE_VALID
    assert value(series, "luister_model_inference_seconds_count", classifier="baseline") > 0
    assert value(series, "luister_es_documents_total", outcome="indexed") >= SAMPLE_VALID
    assert value(series, "luister_es_documents_total", outcome="rejected") == 0
    # Kafka: one lag series per partition of each input topic, and the worker owns all 3 partitions
    lag_partitions = {dict(k)["partition"] for k in series["luister_consumer_lag_messages"]
                      if dict(k)["topic"] == ops_settings.topic_raw}
    assert lag_partitions == {"0", "1", "2"}
    assert value(series, "luister_assigned_partitions", topic=ops_settings.topic_raw) == 3
    assert value(series, "luister_rebalances_total") >= 1
    # state and health
    assert value(series, "luister_ready") == 1
    assert value(series, "luister_dependency_up", dependency="elasticsearch") == 1
    assert value(series, "luister_dependency_up", dependency="kafka") == 1
    assert value(series, "luister_build_info", component="worker") == 1


def test_health_and_readiness_endpoints(ops_worker):
    base = f"http://127.0.0.1:{ops_worker.web_port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
        assert resp.status == 200 and json.loads(resp.read())["status"] == "ok"
    with urllib.request.urlopen(f"{base}/readyz", timeout=10) as resp:
        body = json.loads(resp.read())
        assert resp.status == 200 and body["ready"] is True and body["reason"] == "ready"
    # the debug page that shows example mentions is off without a token
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/crisis/PakjePost/", timeout=10)
    assert missing.value.code == 404


def test_json_logs_follow_one_mention_through_the_pipeline(ops_worker):
    test_metrics_ran = "normalized" in ops_worker.log_path.read_text(errors="replace")
    assert test_metrics_ran, "needs the traffic of the metrics test in this module"
    lines = ops_worker.log_path.read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) > SAMPLE_VALID * 3
    for record in records:
        assert {"ts", "level", "logger", "msg"} <= record.keys()
    by_mention: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.get("mention_id"):
            by_mention[record["mention_id"]].append(record.get("stage", ""))
    first = json.loads(SAMPLE.read_bytes().splitlines()[0])["id"]
    assert {"normalize", "classify", "index"} <= set(by_mention[first]), by_mention[first]
    traced = [m for m, seen in by_mention.items() if {"normalize", "classify", "index"} <= set(seen)]
    assert len(traced) == SAMPLE_VALID
    letters = [r for r in records if r["msg"] == "dead-lettered"]
    assert len(letters) == SAMPLE_BAD and all(r["reason"] and r["stage"] == "normalize" for r in letters)


AUDIT_KEY = {"LUISTER_AUDIT_HMAC_KEY": "a-test-secret-not-the-default"}


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "luister.cli", "doctor", *args], cwd=ROOT, capture_output=True,
                          check=False, text=True, timeout=120, env={**os.environ, **AUDIT_KEY, **env})


def test_doctor_passes_against_the_running_services(ops_worker, ops_env, ops_settings):
    result = _doctor(ops_env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "All checks passed" in out
    assert f"topic {ops_settings.topic_raw}: 3 partition(s)" in out
    assert "analysis plugin works: luister_dutch 'klachten' -> ['klacht']" in out
    assert f"alias {ops_settings.es_write_alias} answers: {SAMPLE_VALID} mention(s) indexed" in out
    assert "baseline loads" in out
    assert "audit_hmac_key is set (not the default)" in out


def test_doctor_fails_on_the_public_default_audit_key(ops_env):
    result = _doctor({**ops_env, "LUISTER_AUDIT_HMAC_KEY": "luister-audit"}, "--only", "secrets")
    assert result.returncode == 1 and "FAIL  audit_hmac_key is the public default" in result.stdout


def test_doctor_says_in_plain_words_what_is_missing(ops_worker, ops_env):
    result = _doctor({**ops_env, "LUISTER_TOPIC_DLQ": "ops-test-no-such-topic"}, "--only", "kafka")
    assert result.returncode == 1
    assert "FAIL  topic(s) missing: ops-test-no-such-topic. Run `luister setup` to create them." in result.stdout

    closed = free_port()
    result = _doctor({**ops_env, "LUISTER_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed}",
                      "LUISTER_ES_URL": f"http://elastic:hunter2@127.0.0.1:{closed}"}, "--timeout", "2")
    assert result.returncode == 1
    assert f"FAIL  cannot reach Kafka at 127.0.0.1:{closed}" in result.stdout
    assert f"FAIL  cannot reach Elasticsearch at http://elastic:***@127.0.0.1:{closed}" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert "2 problem(s) found" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
