"""Replay a CSV export of mentions (from a listening tool or a spreadsheet) into Kafka.

Columns (header row; unknown columns are ignored): `id`, `source`, `channel`, `handle`
(or `author`), `display_name`, `followers`, `is_verified`, `text`, `lang`, `created_at`,
`url`, `in_reply_to`, `brand`, `matched_keyword`. `id` may be a full mention id
(`twitter:123`) or a native one; without it a stable id is derived from the row. Rows that
do not make a valid mention are sent on as JSON so `normalize` dead-letters them with the
reason, exactly as the JSONL replay does.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectors.base import Connector, Record
from schemas import RawMention
from schemas.mention import mention_id, stable_native_id

log = logging.getLogger(__name__)

_FULL_ID = re.compile(r"^[a-z_]+:\S+$")
_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def row_to_document(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a RawMention-shaped dict (pure; validation happens after)."""
    get = lambda k: (row.get(k) or "").strip()  # noqa: E731
    source, handle, text, created = get("source"), get("handle") or get("author"), row.get("text") or "", get("created_at")
    native = get("id")
    if not native:
        native = stable_native_id(source, handle, created, text)
    doc: dict[str, Any] = {
        "id": native if _FULL_ID.match(native) else mention_id(source or "unknown", native),
        "source": source, "channel": get("channel") or "third_party",
        "author": {"handle": handle, **({"display_name": get("display_name")} if get("display_name") else {}),
                   **({"followers": int(get("followers"))} if get("followers").isdigit() else {}),
                   "is_verified": _BOOL.get(get("is_verified").lower(), False)},
        "text": text, "created_at": created, "brand": get("brand"),
    }
    for key in ("url", "lang_hint", "in_reply_to", "matched_keyword"):
        value = get(key) or (get("lang") if key == "lang_hint" else "")
        if value:
            doc[key] = value
    return doc


class CsvReplayConnector(Connector):
    name = "csv"

    def __init__(self, path: str | Path, *, restamp: bool = True, delimiter: str = ","):
        self.path = Path(path)
        self.restamp, self.delimiter = restamp, delimiter
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file to replay: {self.path}")

    def records(self) -> Iterator[Record]:
        with self.path.open(newline="", encoding="utf-8-sig") as fh:
            for line_no, row in enumerate(csv.DictReader(fh, delimiter=self.delimiter), start=2):
                doc = row_to_document(row)
                encoded = json.dumps(doc, ensure_ascii=False).encode()
                try:
                    mention = RawMention.model_validate_json(encoded)
                except ValidationError as exc:
                    log.warning("invalid row sent on for dead-lettering",
                                extra={"file": str(self.path), "line": line_no, "error": str(exc).splitlines()[0]})
                    yield encoded
                    continue
                if self.restamp:
                    mention = mention.model_copy(update={"ingested_at": datetime.now(timezone.utc)})
                yield mention
