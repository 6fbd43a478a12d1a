"""Benchmarks (`make bench`, `python -m bench.run --help`): the bare model, a naive
consumer and the Luister pipeline, measured side by side in one run (docs/benchmarks.md)."""
