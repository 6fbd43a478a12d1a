"""Every topic the pipeline reads or writes, declared once (no auto-named topics)."""
from __future__ import annotations

from pipeline.app import app, settings
from pipeline.consumer import contiguous

_common = dict(key_type=bytes, value_type=bytes, partitions=settings.topic_partitions)

raw = app.topic(settings.topic_raw, **_common)
normalized = app.topic(settings.topic_normalized, **_common)
classified = app.topic(settings.topic_classified, **_common)
dlq = app.topic(settings.topic_dlq, **_common)
contiguous([settings.topic_raw, settings.topic_normalized, settings.topic_classified])
