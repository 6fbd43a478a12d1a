"""Running the real pipeline from outside it: used by the tests, the benchmarks and the demo.

- `worker.py`: a Faust worker in its own process, started and stopped like an operator would;
- `isolation.py`: topic, group, index and data-dir names unique to one run, as an env dict and
  as Settings, and their removal afterwards;
- `probe.py`: when each mention first became searchable in Elasticsearch;
- `stats.py`: percentiles; `net.py`: a free port; `wait.py`: poll until something holds.
"""
