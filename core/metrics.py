"""Prometheus metrics shared by every Luister process (exposed on /metrics)."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from core.version import __version__

STAGE_EVENTS = Counter(
    "luister_stage_events_total", "Records handled per pipeline stage and outcome", ["stage", "outcome"]
)
STAGE_SECONDS = Histogram(
    "luister_stage_batch_seconds", "Time to process one batch per stage", ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PIPELINE_LATENCY = Histogram(
    "luister_publish_to_indexed_seconds", "From connector publish to Elasticsearch bulk acknowledgement",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
ES_DOCS = Counter("luister_es_documents_total", "Documents written to Elasticsearch by outcome", ["outcome"])
ES_BULK_RETRIES = Counter("luister_es_bulk_retries_total", "Bulk writes retried after a transient failure")

# --- operations (docs/operations.md). Labels stay bounded: stage/agent names, topic names,
# partition numbers, enum values, configured sink/connector names; never a mention or customer id.
STAGE_RECEIVED = Counter("luister_stage_received_total", "Records a stage took from its input topic", ["stage"])
STAGE_ERRORS = Counter(
    "luister_stage_errors_total", "Unexpected exceptions that crashed a stage (Faust restarts its agent)", ["stage"])
DEAD_LETTERS = Counter("luister_dead_letters_total", "Records sent to the dead-letter topic", ["stage", "reason"])
MODEL_BATCH_SIZE = Histogram(
    "luister_model_batch_size", "Mentions per classifier call", ["classifier"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
CLASSIFY_CACHE = Counter("luister_classify_cache_total", "Texts the classify stage looked up in its cache of "
                         "recent texts", ["outcome"])  # hit: a retweet/copy classified before; miss: sent to the model
MODEL_SECONDS = Histogram(
    "luister_model_inference_seconds", "Wall time of one classifier call (a whole batch)", ["classifier"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CONSUMER_LAG = Gauge(
    "luister_consumer_lag_messages", "End offset minus committed offset, per partition this worker owns",
    ["topic", "partition"])
PARTITION_STALLED = Gauge(
    "luister_partition_stalled_seconds", "How long an assigned partition with lag has made no progress "
    "(committed offset unchanged); 0 while it moves", ["topic", "partition"])
ASSIGNED_PARTITIONS = Gauge("luister_assigned_partitions", "Partitions assigned to this worker", ["topic"])
OFFSET_JUMPS = Counter("luister_offset_jumps_total", "Forward jumps in a stream partition's offsets, by what was "
                       "done: sought_back (unprocessed records skipped: read again), already_processed "
                       "(committed by another worker), deleted (removed by retention), gave_up", ["outcome"])
REBALANCES = Counter("luister_rebalances_total", "Consumer group rebalances this worker went through")
TABLE_KEYS = Gauge("luister_table_keys", "Keys in a Faust table held by this worker (active + standby)", ["table"])
DEPENDENCY_UP = Gauge(
    "luister_dependency_up", "1 when the process last reached the dependency, else 0", ["dependency"])
READY = Gauge("luister_ready", "1 when the process reports ready on /readyz")
BUILD_INFO = Gauge("luister_build_info", "Always 1; labels say what runs", ["version", "component", "classifier"])
DEPENDENCIES: dict[str, bool] = {}  # what readiness checks read; the gauge is what Prometheus reads


def set_dependency(name: str, up: bool) -> None:
    """Record whether this process reached a dependency (elasticsearch, kafka, a sink)."""
    DEPENDENCIES[name] = up
    DEPENDENCY_UP.labels(dependency=name).set(1 if up else 0)
# alert deliveries: luister_alert_deliveries_total / luister_alert_delivery_retries_total live in
# sinks/alerts/base.py; crisis counters in pipeline/stages/crisis.py (registered when imported)

# --- connectors (label `connector` = the instance name)
CONNECTOR_EVENTS = Counter(
    "luister_connector_events_total", "Items a connector handled, by outcome "
    "(published, edited, deleted, ignored, truncated, duplicate, unmatched, own_post, dead_lettered)",
    ["connector", "outcome"])
CONNECTOR_IGNORED = Counter(
    "luister_connector_ignored_total", "Payloads a connector ignored on purpose, by reason (not public, "
    "a Messenger delivery, a change without content, a deleted placeholder, ...)", ["connector", "reason"])
CONNECTOR_ERRORS = Counter(
    "luister_connector_errors_total", "Connector errors by kind (network, http, rate_limited, platform, unexpected)",
    ["connector", "kind"])
CONNECTOR_RECONNECTS = Counter("luister_connector_reconnects_total", "Stream reconnects and poll retries",
                               ["connector"])
CONNECTOR_LAG = Gauge("luister_connector_lag_seconds",
                      "Publish time minus creation time of the newest mention a connector published", ["connector"])
CONNECTOR_RATE_LIMIT_WAIT = Counter("luister_connector_rate_limit_wait_seconds_total",
                                    "Seconds a connector waited because a platform asked it to", ["connector"])

# --- customer state and triage (docs/triage.md)
PERSONA_VERDICTS = Counter("luister_persona_verdicts_total", "Mentions judged, by the author's persona", ["persona"])
REPEATED_NEGATIVITY = Counter("luister_repeated_negativity_total", "Mentions flagged as repeated negativity")
REGISTRY_LINKS = Gauge("luister_customer_registry_links", "Accounts linked to a customer in this worker's registry")


def stage_of(agent_name: str) -> str:
    """`pipeline.stages.normalize.normalize` -> `normalize`: the `stage` label, one value per agent."""
    return agent_name.rsplit(".", 1)[-1] or "unknown"


def consumer_lag(end: dict[tuple[str, int], int], committed: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Lag per (topic, partition): end offset minus committed offset. A partition with no commit
    yet (absent or -1) counts from 0, since the group then reads it from the earliest offset."""
    return {tp: max(0, end_offset - max(committed.get(tp, 0), 0)) for tp, end_offset in end.items()}


# --- serving /metrics, /healthz and /readyz from a process that has no web server of its own

def serve_metrics(port: int, *, host: str | None = None, ready: Callable[[], tuple[bool, str]] | None = None,
                  component: str = "luister") -> MetricsServer:
    """Start a daemon-thread HTTP server: /metrics (Prometheus), /healthz (alive), /readyz.

    `host` defaults to the `metrics_host` setting (127.0.0.1; 0.0.0.0 in a container, so
    Prometheus and the kubelet reach it). `ready()` returns (is_ready, reason); /readyz
    answers 200 or 503 with the reason. Port 0 picks a free port (see `.port`); `.stop()`
    shuts it down. The Faust worker serves the same three paths on its web port (pipeline/stages/ops.py).
    """
    if host is None:
        from core.settings import get_settings

        host = get_settings().metrics_host
    return MetricsServer(port, host=host, ready=ready, component=component)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # a scrape every few seconds would flood stderr
        pass


class MetricsServer:
    def __init__(self, port: int, *, host: str, ready: Callable[[], tuple[bool, str]] | None, component: str):
        self._metrics_app = make_wsgi_app(REGISTRY)
        self._ready = ready or (lambda: (True, "no readiness check"))
        self.component = component
        self._server = make_server(host, port, self._app, ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"metrics-{port}", daemon=True)
        self._thread.start()
        BUILD_INFO.labels(version=__version__, component=component, classifier="").set(1)

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok", "component": self.component})
        if path == "/readyz":
            ok, reason = self._ready()
            READY.set(1 if ok else 0)
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable",
                         {"ready": ok, "reason": reason, "component": self.component})
        return _json(start_response, "404 Not Found", {"error": "try /metrics, /healthz or /readyz"})

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _json(start_response, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
