"""The worker's entry point: imports every stage so its agents register on the app, and loads
the model, the triage config and the customer registry when the worker starts.

    luister worker                              (the usual way; --help for its options)
    faust -A pipeline.worker worker -l info     (the same, by hand)
"""
from __future__ import annotations

from pipeline import resources
from pipeline.app import app
from pipeline.stages import classify, crisis, customers, deletions, index, normalize, ops  # noqa: F401 - they register

__all__ = ["app"]

ops.hook_agent_errors()


@app.on_worker_init.connect
def _load_resources(sender=None, **kwargs) -> None:  # noqa: ARG001
    resources.load()
