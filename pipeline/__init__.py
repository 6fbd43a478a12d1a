"""The Faust stream job, stage by stage (docs/operations.md has the topic table):

    raw -> normalize -> classify (+ enrich) -> profile (customer state) -> index -> Elasticsearch
                                                                        -> crisis -> alerts

- `app.py` creates the Faust app; `worker.py` is the entry point that imports the stages.
- `stages/` holds the Faust wiring, one module per stage, thin.
- `topics.py` declares the worker's topics from core/topics.py; `dead_letters.py` sends what a
  stage cannot handle to the dead-letter topic; `resources.py` loads the model and configs at start;
  `es_wait.py` is how a stage waits for Elasticsearch.
- The logic is pure and framework-free: `normalize.py`, `classify.py`, `customers/` (identity,
  history, personas), `crisis/` (windows, baselines, incidents).
- `consumer.py` (never skip an offset) and `faust_compat.py` (every touch of Faust's internals)
  are the framework edge; `inflight.py` keeps the model busy.
"""
