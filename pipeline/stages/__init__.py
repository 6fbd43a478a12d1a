"""The Faust wiring, one module per stage: thin loops around the pure functions elsewhere in
`pipeline/` (normalize.py, classify.py, customers/, crisis/) and the enrichers and sinks.

Each agent takes a batch (`take_events(n, within=t)`), does its work, and only then lets Faust
ack the batch; Faust flushes the producer before it commits offsets, so a crash replays from the
last commit (at-least-once) and idempotent ids make the replay harmless. Whatever a stage cannot
handle goes to the dead-letter topic with the reason (pipeline/dead_letters.py).

pipeline/worker.py imports every module here so the agents register on the app.
"""
