"""Crisis detection: windowed volumes, learned baselines, alert lifecycle (docs/crisis.md).

Pure modules, no Faust and no I/O: `facts` (what one mention counts as), `windows` (buckets and
trailing windows, a window judged against its baseline), `baseline` and `stats` (what is usual, and
how unusual a count is), `incidents` (an alert's life: open, update, resolve), `summaries` (the
texts and evidence alerts carry), `state` (a brand's state as the table stores it), `topics` (what
a mention is about) and `detect` (the `Detector` that ties them together). The Faust wiring is
pipeline/stages/crisis.py; `simulate` and `calibrate` replay streams offline.
"""
