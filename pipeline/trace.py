"""`log_mentions`: one log line per mention per stage (mention_id, stage, partition, offset), to
follow one mention through the pipeline. Off unless the setting is on: it costs a line per mention."""
from __future__ import annotations

import logging

from pipeline.app import settings

trace = logging.getLogger("luister.mentions")
trace.setLevel(logging.INFO if settings.log_mentions else logging.WARNING)
