"""The deployment files validate with the tools made for them, and refer only to what the code exports.

- Prometheus rules: Prometheus's own rule parser (`rulefmt`, the code of `promtool check rules`)
  and PromQL parser, in a small Go tool (deploy/prometheus/rulecheck) built once into .cache/tools;
- Grafana dashboard: structure, and every query through the same PromQL parser;
- Compose: compose-spec's loader (what `docker compose config` runs), in deploy/compose/composecheck;
- Kubernetes: the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields fail), on the
  files and on what `kubectl kustomize` renders;
- Dockerfile and the image's lock file.
No services needed. The first run builds the Go tools (about a minute); later runs reuse them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "luister.rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "luister.json"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
K8S = DEPLOY / "k8s"
K8S_VERSIONS = ("1.29", "1.33")  # the oldest and newest minor versions we promise to run on
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}  # made by Prometheus, not us
UNBOUNDED_LABELS = {"id", "mention_id", "customer", "customer_id", "handle", "author", "url", "text", "key", "offset"}


# ------------------------------------------------------------------ helpers

def go_tool(src: Path) -> Path:
    """Build (once per source version) and return the Go tool in `src`."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("these checks build a small Go tool with the Go toolchain (>= 1.26, on the project's machine "
                    "image): install Go and retry")
    digest = hashlib.sha256()
    for path in sorted(p for p in src.iterdir() if p.suffix in {".go", ".mod", ".sum"}):
        digest.update(path.name.encode() + path.read_bytes())
    out = ROOT / ".cache" / "tools" / f"{src.name}-{digest.hexdigest()[:12]}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        result = subprocess.run([go, "build", "-trimpath", "-o", str(tmp), "."], cwd=src, capture_output=True, check=False,
                                text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"could not build {src.relative_to(ROOT)}:\n{result.stderr[-3000:]}")
        tmp.rename(out)
    return out


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)


_LIST_METRICS = r"""
import importlib, json, pkgutil
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
failed = []
importlib.import_module("pipeline.worker")  # the worker's entry point registers every stage
for pkg in ("core", "luister", "pipeline", "sinks", "connectors"):
    root = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(root.__path__, pkg + "."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # reported, so a module nobody can import is seen
            failed.append(f"{info.name}: {exc!r}"[:300])
families = {}
for collector in list(REGISTRY._collector_to_names):
    if isinstance(collector, MetricWrapperBase):
        families[collector._name] = {"type": collector._type, "labels": list(collector._labelnames),
                                     "doc": collector._documentation}
names = set()
for fam in REGISTRY.collect():
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count", "_created"],
                "summary": ["_sum", "_count", "_created"], "info": ["_info"]}.get(fam.type, [""])
    names |= {fam.name + s for s in suffixes}
print(json.dumps({"names": sorted(names), "families": families, "failed": failed}))
"""


@lru_cache(maxsize=1)
def exported() -> dict:
    """Every metric Luister's modules register, as Prometheus will see the series names."""
    env = {**os.environ, "LUISTER_CLASSIFIER": "baseline", "LUISTER_WORKER_DATA_DIR": str(ROOT / ".cache" / "faust-list")}
    result = run([sys.executable, "-c", _LIST_METRICS], cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def rule_results() -> list[dict]:
    result = run([str(go_tool(DEPLOY / "prometheus" / "rulecheck")), "rules", str(RULES)])
    assert result.returncode == 0, f"rules do not validate:\n{result.stderr}"
    return json.loads(result.stdout)


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


# ------------------------------------------------------------------ metrics: conventions

def test_every_metric_follows_prometheus_naming_and_bounded_labels():
    data = exported()
    assert not data["failed"], "modules that do not import: " + "; ".join(data["failed"])
    ours = {name: fam for name, fam in data["families"].items() if name.startswith("luister")}
    assert len(ours) >= 20, sorted(ours)
    for name, fam in ours.items():
        assert re.fullmatch(r"luister_[a-z0-9_]+", name), name
        assert fam["doc"].strip(), f"{name} has no help text"
        if fam["type"] == "counter":
            assert not name.endswith("_total"), f"{name}: prometheus_client adds _total itself"
        if fam["type"] == "histogram" and name != "luister_model_batch_size":
            assert name.endswith("_seconds"), f"{name}: histograms of time are in seconds (base unit)"
        assert not re.search(r"_(ms|milliseconds|minutes|hours)(_|$)", name), f"{name}: use base units"
        unbounded = set(fam["labels"]) & UNBOUNDED_LABELS
        assert not unbounded, f"{name} has unbounded labels {unbounded}: one series per mention/customer"


def test_the_issue_s_metrics_are_all_there():
    names = set(exported()["names"])
    for needed in ("luister_stage_received_total", "luister_stage_events_total", "luister_dead_letters_total",
                   "luister_stage_errors_total", "luister_stage_batch_seconds_bucket",
                   "luister_publish_to_indexed_seconds_bucket", "luister_model_batch_size_bucket",
                   "luister_model_inference_seconds_bucket", "luister_consumer_lag_messages",
                   "luister_assigned_partitions", "luister_es_documents_total", "luister_es_bulk_retries_total",
                   "luister_alert_deliveries_total", "luister_table_keys", "luister_ready", "luister_dependency_up"):
        assert needed in names, needed


# ------------------------------------------------------------------ Prometheus

def test_alert_rules_pass_prometheus_s_own_rule_validation():
    results = rule_results()
    names = {r["name"] for r in results}
    # what the issue asks for: lag growing, DLQ rate, Elasticsearch failures, worker down
    for alert in ("LuisterConsumerLagGrowing", "LuisterDeadLetterRateHigh", "LuisterElasticsearchRetrying",
                  "LuisterElasticsearchRejects", "LuisterWorkerDown", "LuisterNoWorkers"):
        assert alert in names
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_rule_validator_catches_broken_rules(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: A\n    expr: rate(foo[5m) > 1\n")
    assert run([str(go_tool(DEPLOY / "prometheus" / "rulecheck")), "rules", str(bad)]).returncode != 0
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5 minutes\n")
    assert run([str(go_tool(DEPLOY / "prometheus" / "rulecheck")), "rules", str(bad)]).returncode != 0


def test_alert_rules_use_only_metrics_the_code_exports():
    names = set(exported()["names"]) | PROMETHEUS_OWN
    for rule in rule_results():
        missing = set(rule["metrics"]) - names
        assert not missing, f"{rule['name']} uses metrics nobody exports: {missing}"


def test_prometheus_config_scrapes_the_jobs_the_rules_name():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for rule in rule_results():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, f"{rule['name']} names job {job} that prometheus.yml does not scrape"
    worker_port = jobs["luister-worker"]["dns_sd_configs"][0]["port"]
    assert worker_port == Settings.model_fields["worker_web_port"].default
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


# ------------------------------------------------------------------ Grafana

def test_dashboard_is_a_well_formed_grafana_dashboard():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in dash["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table"}, panel["type"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(refs) == len(set(refs)), panel["title"]
    provisioned = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert variables["datasource"]["current"]["value"] == provisioned["datasources"][0]["uid"]


def test_dashboard_queries_parse_and_use_only_exported_metrics():
    exprs = dashboard_exprs()
    result = run([str(go_tool(DEPLOY / "prometheus" / "rulecheck")), "exprs"], input=json.dumps(exprs))
    parsed = json.loads(result.stdout)
    assert result.returncode == 0, [p for p in parsed if p.get("error")]
    names = set(exported()["names"]) | PROMETHEUS_OWN
    for item in parsed:
        assert not set(item["metrics"]) - names, f"{item['expr']} uses metrics nobody exports"
    used = {m for item in parsed for m in item["metrics"]}
    for core in ("luister_stage_received_total", "luister_dead_letters_total", "luister_consumer_lag_messages",
                 "luister_publish_to_indexed_seconds_bucket", "luister_model_inference_seconds_bucket",
                 "luister_es_documents_total", "luister_table_keys", "luister_alert_deliveries_total"):
        assert core in used, f"the dashboard shows no {core}"


# ------------------------------------------------------------------ Compose

def test_compose_file_loads_like_docker_compose_config():
    result = run([str(go_tool(DEPLOY / "compose" / "composecheck")), "-profile", "*", str(COMPOSE)], cwd=COMPOSE.parent)
    assert result.returncode == 0, result.stderr
    project = yaml.safe_load(result.stdout)
    services = project["services"]
    for name in ("kafka", "elasticsearch", "kibana", "prometheus", "grafana", "setup", "worker", "connector"):
        assert name in services, name
    for service in services.values():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"bind mount {volume['source']} does not exist"
        for key in service.get("environment") or {}:
            if key.startswith("LUISTER_"):
                field = key.removeprefix("LUISTER_").lower()
                assert field in Settings.model_fields, f"{key} is no Luister setting"
    assert services["worker"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["worker"]
    assert (ROOT / services["elasticsearch"]["build"]["dockerfile"]).is_file() or \
        (Path(services["elasticsearch"]["build"]["context"]) / services["elasticsearch"]["build"]["dockerfile"]).is_file()


def test_compose_validator_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("condition: service_healthy}", "condition: when_ready}", 1))
    result = run([str(go_tool(DEPLOY / "compose" / "composecheck")), str(broken)], cwd=COMPOSE.parent)
    assert result.returncode != 0 and "condition" in result.stderr


# ------------------------------------------------------------------ Kubernetes

def _kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def _resources() -> list[dict]:
    docs = []
    for name in _kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def _validate(docs: list[dict]) -> None:
    import kubernetes_validate

    for version in K8S_VERSIONS:
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} is invalid for Kubernetes {version}: "
                            f"{exc.message} at {'.'.join(map(str, exc.path))}")


def test_k8s_manifests_validate_against_the_kubernetes_schemas():
    docs = _resources()
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "PodDisruptionBudget", "Job", "Secret", "Namespace"} <= kinds
    _validate(docs)
    for generator in _kustomization()["configMapGenerator"]:
        for entry in generator["files"]:
            assert (K8S / entry.split("=")[-1]).is_file(), entry


def test_kustomize_renders_and_the_result_validates():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is needed to render deploy/k8s; it is on the project's "
                    "machine image")
    result = run([kubectl, "kustomize", str(K8S)])
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    _validate(docs)
    config_maps = [d for d in docs if d["kind"] == "ConfigMap"]
    assert any(d["metadata"]["name"].startswith("luister-config-") for d in config_maps)
    assert all(d["metadata"]["namespace"] == "luister" for d in docs if d["kind"] != "Namespace")


def test_worker_deployment_is_sized_by_partitions_probed_and_protected():
    docs = _resources()
    config = tomllib.loads((K8S / "luister.toml").read_text())
    Settings(**config)  # every key is a real setting (extra keys are refused)
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "luister-worker")
    assert 2 <= worker["spec"]["replicas"] <= config["topic_partitions"], "replicas beyond the partitions stay idle"
    pod = worker["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "worker")
    port = config["worker_web_port"]
    assert {p["containerPort"] for p in container["ports"]} == {port}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 300
    assert config["metrics_host"] == "0.0.0.0", "probes and Prometheus reach the pod's IP, not its loopback"
    for c in pod["containers"] + pod.get("initContainers", []):
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"], c["name"]
        assert c["resources"]["limits"]["memory"], c["name"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] >= 30
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert config["worker_data_dir"] in mounts
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert pdb["spec"].get("maxUnavailable") == 1
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "luister-worker")
    assert service["spec"]["selector"] == worker["spec"]["selector"]["matchLabels"]


# ------------------------------------------------------------------ image

def _dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        if op.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((op.upper(), rest.strip()))
    return stages


def test_dockerfile_is_pinned_small_and_runs_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), f"pin the base image to a patch version: {base}"
    stages = _dockerfile_stages()
    assert len(stages) == 2, "a build stage and a runtime stage"
    final = stages[-1]
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert not any(op == "RUN" and "pip install" in arg for op, arg in final), "install in the build stage only"
    _copies_pass_dockerignore(ROOT / "Dockerfile", ROOT / ".dockerignore")


def test_the_image_copies_every_package_the_worker_and_cli_import():
    """A package added to the layout (core/ was) must reach the image, or `luister worker` fails there."""
    copied = {source.rstrip("/") for stage in _dockerfile_stages() for op, arg in stage
              if op == "COPY" and not arg.startswith("--from") for source in arg.split()[:-1]}
    needed = {"core", "schemas", "connectors", "classifiers", "enrichers", "sinks", "pipeline", "luister", "LICENSE"}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"


def test_elasticsearch_image_builds_the_plugin_for_its_own_version():
    dockerfile = DEPLOY / "compose" / "elasticsearch.Dockerfile"
    stages = _dockerfile_stages(dockerfile)
    version = re.search(r"ARG ES_VERSION=(\S+)", dockerfile.read_text()).group(1)
    pinned = dict(line.split("=", 1) for line in (DEPLOY / "local" / "versions.env").read_text().splitlines()
                  if "=" in line and not line.startswith("#"))
    assert version == pinned["ES_VERSION"], "the compose node must run the version the plugin is built and tested for"
    assert any(op == "RUN" and "es-plugin/build.sh" in arg for op, arg in stages[0])
    # BuildKit reads <Dockerfile>.dockerignore for this build (context: the repository root)
    _copies_pass_dockerignore(dockerfile, dockerfile.with_name(dockerfile.name + ".dockerignore"))


def _copies_pass_dockerignore(dockerfile: Path, dockerignore: Path) -> None:
    allowed = [line[1:].rstrip("/") for line in dockerignore.read_text().splitlines() if line.startswith("!")]
    for op, arg in (step for stage in _dockerfile_stages(dockerfile) for step in stage):
        if op == "COPY" and not arg.startswith("--from"):
            source = arg.split()[0].rstrip("/")
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            assert any(source == a or source.startswith(a + "/") for a in allowed), \
                f"{source} is not in {dockerignore.name}'s allow list"


def test_image_lock_pins_every_runtime_dependency():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = {}
    for line in (DEPLOY / "compose" / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[canonicalize_name(name)] = version
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is a dependency but not in deploy/compose/requirements.lock: run `make lock`"
        assert req.specifier.contains(lock[name], prereleases=True), \
            f"the lock pins {req.name}=={lock[name]}, outside {req.specifier}: run `make lock`"


def test_image_lock_pins_what_the_extras_we_ask_for_bring():
    """`elasticsearch[async,orjson]`: the packages a dependency's requested extras bring (orjson, which
    the sinks use) are pinned too. Only the extras' own requirements: the rest of the tree may
    move with a fresh install."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    locked = {canonicalize_name(line.partition("==")[0])
              for line in (DEPLOY / "compose" / "requirements.lock").read_text().splitlines()
              if line and not line.startswith("#")}
    brought = set()
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(spec)
        for sub in map(Requirement, metadata.distribution(req.name).requires or []):
            if sub.marker is not None and any(sub.marker.evaluate({"extra": e}) for e in req.extras):
                brought.add(canonicalize_name(sub.name))
    assert "orjson" in brought
    assert brought <= locked, f"not in the lock (run `make lock`): {sorted(brought - locked)}"
