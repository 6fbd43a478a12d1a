"""The normalize stage judges raw bytes: a RawMention, or a DeadLetter that says why."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from pipeline.normalize import normalize
from schemas import MAX_RECORD_BYTES, MAX_TEXT_CHARS, DeadLetter, DeadLetterReason, RawMention

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
VALID = {
    "id": "mastodon:109",
    "source": "mastodon",
    "channel": "third_party",
    "author": {"handle": "@Sanne@toot.example", "followers": 120},
    "text": "Alweer geen internet bij @Belnet 😡 #storing",
    "created_at": "2026-11-27T11:59:00+01:00",
    "brand": "Belnet",
}


def _judge(value: bytes):
    return normalize(value, received_at=NOW, topic="mentions.raw", partition=2, offset=17, key=b"k")


def test_valid_mention_parses():
    result = _judge(json.dumps(VALID).encode())
    assert isinstance(result, RawMention)
    assert result.customer_key == "mastodon:sanne@toot.example"
    assert result.created_at.utcoffset().total_seconds() == 3600


@pytest.mark.parametrize(
    ("value", "reason", "needle"),
    [
        (b"", DeadLetterReason.malformed_json, "empty"),
        (b"not json", DeadLetterReason.malformed_json, "JSON"),
        (b"[1, 2]", DeadLetterReason.schema_violation, "<root>"),
        (b'{"text": "\xff"}', DeadLetterReason.undecodable, "UTF-8"),
        (b" " * (MAX_RECORD_BYTES + 1), DeadLetterReason.oversized, "bytes"),
        (json.dumps({**VALID, "text": "x" * (MAX_TEXT_CHARS + 1)}).encode(), DeadLetterReason.oversized, "text"),
        (json.dumps({**VALID, "source": "fax"}).encode(), DeadLetterReason.schema_violation, "source"),
        (json.dumps({**VALID, "created_at": "yesterday"}).encode(), DeadLetterReason.schema_violation, "created_at"),
        (json.dumps({**VALID, "created_at": "2026-11-27T11:59:00"}).encode(), DeadLetterReason.schema_violation,
         "timezone"),
        (json.dumps({k: v for k, v in VALID.items() if k != "text"}).encode(), DeadLetterReason.schema_violation,
         "text"),
        (json.dumps({**VALID, "followers": 3}).encode(), DeadLetterReason.schema_violation, "followers"),
        (json.dumps({**VALID, "author": {"handle": "x", "followers": "many"}}).encode(),
         DeadLetterReason.schema_violation, "author.followers"),
        (json.dumps({**VALID, "id": "no-source-prefix"}).encode(), DeadLetterReason.schema_violation, "id"),
    ],
)
def test_bad_input_becomes_a_dead_letter_with_reason(value, reason, needle):
    result = _judge(value)
    assert isinstance(result, DeadLetter)
    assert result.reason == reason
    assert needle.lower() in result.detail.lower()
    assert result.original() == value  # the exact bytes are kept
    assert (result.topic, result.partition, result.offset, result.stage) == ("mentions.raw", 2, 17, "normalize")
    assert len(result.original_preview) <= 500
    DeadLetter.model_validate_json(result.model_dump_json())  # and it serialises


def test_dead_letter_ids_are_deterministic():
    assert _judge(b"nope").id == _judge(b"nope").id != _judge(b"nope!").id


def test_a_deletion_record_is_told_apart_from_a_mention_by_its_kind_key():
    from schemas import MentionDeletion

    now = datetime.now(timezone.utc)
    deletion = b'{"kind": "deletion", "id": "bluesky:at1", "source": "bluesky", "deleted_at": "2026-10-01T10:00:00Z"}'
    out = normalize(deletion, received_at=now)
    assert isinstance(out, MentionDeletion) and out.id == "bluesky:at1" and out.reason == "author_deleted"
    # a mention whose text or keyword says "kind"/"deletion" is still a mention
    mention = json.dumps({"id": "twitter:9", "source": "twitter", "channel": "own", "author": {"handle": "a"},
                          "text": '{"kind": "deletion"} is what I typed', "created_at": "2026-10-01T10:00:00Z",
                          "brand": "PakjePost", "matched_keyword": "deletion"}).encode()
    assert isinstance(normalize(mention, received_at=now), RawMention)
    bad = normalize(b'{"kind":"deletion","id":"x"}', received_at=now)
    assert bad.reason.value == "schema_violation" and "source" in bad.detail
