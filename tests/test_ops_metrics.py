"""Operations building blocks that need no services: the /metrics server for non-worker processes,
lag arithmetic, the JSON log set-up the worker hands to Faust, and `luister doctor`'s wording."""
from __future__ import annotations

import io
import json
import logging
import logging.config
import urllib.error
import urllib.request
from contextlib import redirect_stderr

from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.logs import dict_config
from core.settings import Settings
from luister.commands import doctor


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_metrics_answers_metrics_health_and_readiness():
    state = {"ready": False}
    server = metrics.serve_metrics(0, host="127.0.0.1", component="test-connector",
                                   ready=lambda: (state["ready"], "ready" if state["ready"] else "warming up"))
    base = f"http://127.0.0.1:{server.port}"
    try:
        metrics.CONNECTOR_EVENTS.labels("ops-test", "published").inc(3)
        status, body = _get(f"{base}/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        events = [s for s in families["luister_connector_events"].samples
                  if s.labels == {"connector": "ops-test", "outcome": "published"} and s.name.endswith("_total")]
        assert events and events[0].value >= 3
        assert any(s.labels["component"] == "test-connector" for s in families["luister_build_info"].samples)

        assert _get(f"{base}/healthz") == (200, json.dumps({"status": "ok", "component": "test-connector"}).encode())
        status, body = _get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["reason"] == "warming up"
        state["ready"] = True
        status, body = _get(f"{base}/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        assert _get(f"{base}/nope")[0] == 404
    finally:
        server.stop()


def test_serve_metrics_binds_the_configured_host_by_default(monkeypatch):
    monkeypatch.setenv("LUISTER_METRICS_HOST", "127.0.0.1")
    from core.settings import get_settings

    get_settings.cache_clear()
    server = metrics.serve_metrics(0)
    try:
        assert server._server.server_address[0] == "127.0.0.1"
    finally:
        server.stop()
        get_settings.cache_clear()


def test_consumer_lag_is_end_minus_committed_and_never_negative():
    end = {("raw", 0): 100, ("raw", 1): 50, ("raw", 2): 7}
    committed = {("raw", 0): 40, ("raw", 1): -1}  # -1: nothing committed yet; partition 2 absent likewise
    assert metrics.consumer_lag(end, committed) == {("raw", 0): 60, ("raw", 1): 50, ("raw", 2): 7}
    assert metrics.consumer_lag({("raw", 0): 10}, {("raw", 0): 12}) == {("raw", 0): 0}


def test_stage_label_is_the_agent_s_short_name():
    assert metrics.stage_of("pipeline.stages.normalize.normalize") == "normalize"
    assert metrics.stage_of("pipeline.stages.customers.index_profiles") == "index_profiles"
    assert metrics.stage_of("") == "unknown"


def test_dependency_state_feeds_both_readiness_and_the_gauge():
    metrics.set_dependency("ops-test-dep", False)
    assert metrics.DEPENDENCIES["ops-test-dep"] is False
    metrics.set_dependency("ops-test-dep", True)
    assert metrics.DEPENDENCIES["ops-test-dep"] is True
    assert metrics.DEPENDENCY_UP.labels(dependency="ops-test-dep")._value.get() == 1


def test_json_log_config_for_faust_writes_one_json_object_per_line_with_the_mention_id():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        with redirect_stderr(stream):
            logging.config.dictConfig(dict_config("INFO", "json"))
            logging.getLogger("luister.mentions").info("classified", extra={"stage": "classify",
                                                                            "mention_id": "twitter:1"})
            logging.getLogger("kafka.conn").info("noise that must not show")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert lines == [{**lines[0], "level": "info", "logger": "luister.mentions", "msg": "classified",
                      "stage": "classify", "mention_id": "twitter:1"}]
    assert dict_config("DEBUG", "text")["formatters"]["luister"]["()"] == "core.logs.KeyValueFormatter"


def test_doctor_says_what_failed_and_what_to_do():
    findings = [doctor.ok("broker answers"), doctor.warn("cluster is yellow"),
                doctor.fail("topic(s) missing: x. Run `luister setup` to create them.")]
    text = doctor.render("Kafka (k:9092)", findings)
    assert text.splitlines() == ["Kafka (k:9092)", "  ok    broker answers", "  warn  cluster is yellow",
                                 "  FAIL  topic(s) missing: x. Run `luister setup` to create them."]
    assert doctor.summary(findings) == "1 problem(s) found and 1 warning(s): fix the FAIL lines above."
    assert doctor.summary(findings[:2]) == "All checks passed (1 warning(s))."


def test_doctor_reports_a_classifier_that_does_not_load():
    def broken(_name):
        raise FileNotFoundError("classifiers/weights/heads.safetensors")

    (finding,) = doctor.check_classifier(Settings(), load=broken)
    assert finding.status == "FAIL" and "does not load" in finding.message and "heads.safetensors" in finding.message
    (finding,) = doctor.check_classifier(Settings(classifier="baseline"))
    assert finding.status == "ok" and "complaint" in finding.message


def test_every_agent_counts_its_crashes_and_each_event_in_per_stage():
    """In a subprocess: importing the Faust app must not leak into the other tests."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = """
import asyncio, json
from pipeline.worker import app
from core import metrics
hooked = {metrics.stage_of(a.name): getattr(a._on_error, "luister_hooked", False) for a in app.agents.values()}
agent = app.agents["pipeline.stages.classify.classify"]
asyncio.run(agent._on_error(agent, RuntimeError("boom")))
sensors = [type(s).__name__ for s in app.sensors]
print(json.dumps({"hooked": hooked, "errors": metrics.STAGE_ERRORS.labels(stage="classify")._value.get(),
                  "sensors": sensors}))
"""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "LUISTER_CLASSIFIER": "baseline", "LUISTER_WORKER_DATA_DIR": str(root / ".cache" / "faust-list")}
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["hooked"] and all(result["hooked"].values()), result["hooked"]
    assert {"normalize", "classify", "index"} <= result["hooked"].keys()
    assert result["errors"] == 1
    assert "StageSensor" in result["sensors"]
