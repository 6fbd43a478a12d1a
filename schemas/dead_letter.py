"""A record that a stage could not process, with the reason and the original bytes."""
from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.mention import SCHEMA_VERSION, _Strict

PREVIEW_CHARS = 500
# A letter must fit in one Kafka record (1 MB by default, base64 adds a third): of a bigger
# original only the first bytes are kept, with its full size and `original_truncated`.
MAX_ORIGINAL_BYTES = 512 * 1024


class DeadLetterReason(StrEnum):
    oversized = "oversized"
    undecodable = "undecodable"  # not UTF-8
    malformed_json = "malformed_json"
    malformed_xml = "malformed_xml"  # a feed (RSS/Atom) that does not parse
    schema_violation = "schema_violation"
    processing_error = "processing_error"  # a stage raised on a valid mention
    rejected = "rejected"  # refused by the sink (e.g. a mapping conflict)


class DeadLetter(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    id: str  # content hash + origin: re-dead-lettering the same record is idempotent
    stage: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    reason: DeadLetterReason
    detail: Annotated[str, StringConstraints(max_length=4000)]
    original_b64: str  # the exact bytes received, base64 (the first MAX_ORIGINAL_BYTES of them)
    original_preview: Annotated[str, StringConstraints(max_length=PREVIEW_CHARS)]
    original_size: Annotated[int, Field(ge=0)]
    original_truncated: bool = False  # original_b64 holds only the first MAX_ORIGINAL_BYTES
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key_b64: str | None = None
    mention_id: str | None = None
    received_at: AwareDatetime

    @classmethod
    def build(
        cls,
        *,
        stage: str,
        reason: DeadLetterReason,
        detail: str,
        original: bytes,
        received_at: "AwareDatetime",
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
        mention_id: str | None = None,
    ) -> "DeadLetter":
        digest = hashlib.sha256(original).hexdigest()[:16]
        origin = f"{topic}-{partition}-{offset}" if topic is not None else "direct"
        return cls(
            id=f"dlq:{stage}:{origin}:{digest}",
            stage=stage,
            reason=reason,
            detail=detail[:4000],
            original_b64=base64.b64encode(original[:MAX_ORIGINAL_BYTES]).decode("ascii"),
            original_preview=original[:PREVIEW_CHARS].decode("utf-8", errors="replace")[:PREVIEW_CHARS],
            original_size=len(original),
            original_truncated=len(original) > MAX_ORIGINAL_BYTES,
            topic=topic,
            partition=partition,
            offset=offset,
            key_b64=base64.b64encode(key).decode("ascii") if key is not None else None,
            mention_id=mention_id,
            received_at=received_at,
        )

    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)
