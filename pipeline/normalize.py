"""Judge one raw record: a valid `RawMention`, a `MentionDeletion` (its author deleted a post), or a
`DeadLetter` that says why not. Pure."""
from __future__ import annotations

import re
from datetime import datetime

from pydantic import ValidationError

from schemas import MAX_RECORD_BYTES, DeadLetter, DeadLetterReason, MentionDeletion, RawMention

# a deletion's discriminator: a JSON key "kind" (a mention has no such key; inside a string the
# quotes would be escaped, so text that talks about deletion never matches)
_DELETION = re.compile(rb'"kind"\s*:\s*"deletion"')

STAGE = "normalize"


def _describe(exc: ValidationError) -> tuple[DeadLetterReason, str]:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return DeadLetterReason.malformed_json, "; ".join(e["msg"] for e in errors[:3])
    if any(e["type"] == "string_too_long" and e["loc"][:1] == ("text",) for e in errors):
        return DeadLetterReason.oversized, "text exceeds the maximum length"
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5]]
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return DeadLetterReason.schema_violation, "; ".join(parts) + more


def normalize(
    value: bytes | None,
    *,
    received_at: datetime,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | None = None,
) -> RawMention | MentionDeletion | DeadLetter:
    original = value or b""

    def dead(reason: DeadLetterReason, detail: str) -> DeadLetter:
        return DeadLetter.build(stage=STAGE, reason=reason, detail=detail, original=original, received_at=received_at,
                                topic=topic, partition=partition, offset=offset, key=key)

    if len(original) > MAX_RECORD_BYTES:
        return dead(DeadLetterReason.oversized, f"record is {len(original)} bytes; the limit is {MAX_RECORD_BYTES}")
    if not original.strip():
        return dead(DeadLetterReason.malformed_json, "empty record")
    try:
        original.decode("utf-8")
    except UnicodeDecodeError as exc:
        return dead(DeadLetterReason.undecodable, f"not valid UTF-8: {exc.reason} at byte {exc.start}")
    model = MentionDeletion if _DELETION.search(original) else RawMention
    try:
        return model.model_validate_json(original)
    except ValidationError as exc:
        reason, detail = _describe(exc)
        return dead(reason, detail)
