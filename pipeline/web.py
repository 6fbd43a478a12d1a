"""Worker HTTP endpoints beside Faust's own: Prometheus `/metrics` and `/healthz`."""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipeline.app import app


@app.page("/metrics")
async def metrics_view(web, request):  # noqa: ARG001
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/healthz")
async def health_view(web, request):  # noqa: ARG001
    return web.json({"status": "ok", "app": app.conf.id})
