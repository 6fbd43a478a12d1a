"""The monthly webcare report: data.py gathers, charts.py draws, render.py writes one HTML page,
export.py turns it into PDF/PNG with headless Chromium."""
