"""Crisis detection: windowed volumes, learned baselines, alert lifecycle (docs/crisis.md).

The maths lives in pure modules (`stats`, `baseline`, `topics`, `detect`); `agents` is the thin
Faust wiring and is the only module that imports the app.
"""
