"""Replay a JSONL file of recorded mentions (one JSON object per line) into Kafka.

Valid lines are re-stamped with the publish time (`ingested_at`) so latency is
measured for this run; invalid lines are sent unchanged and end up in the
dead-letter topic with the reason, exactly as they would from a live source.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from connectors.base import Connector, Record
from schemas import RawMention

log = logging.getLogger(__name__)


class FileReplayConnector(Connector):
    name = "file"

    def __init__(self, path: str | Path, *, restamp: bool = True):
        self.path = Path(path)
        self.restamp = restamp
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file to replay: {self.path}")

    def records(self) -> Iterator[Record]:
        with self.path.open("rb") as fh:
            for line_no, line in enumerate(fh, start=1):
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    mention = RawMention.model_validate_json(line)
                except (ValidationError, ValueError) as exc:
                    log.warning("invalid line sent on for dead-lettering",
                                extra={"file": str(self.path), "line": line_no, "error": str(exc).splitlines()[0]})
                    yield line
                    continue
                if self.restamp:
                    mention = mention.model_copy(update={"ingested_at": datetime.now(timezone.utc)})
                yield mention
