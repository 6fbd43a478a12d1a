"""A mention its author deleted (or the platform removed): what a connector publishes to the raw
topic instead of a mention, so the pipeline takes it out of search, counts and customer history.

It carries no content, only which mention and when: the platforms' developer terms require
honouring deletions, and the record itself must not keep what was deleted. Versioned like the
mention (`schema_version`), told apart from it by `kind`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from schemas.mention import MentionId, Source, _Strict

DELETION_SCHEMA_VERSION = 1


class MentionDeletion(_Strict):
    kind: Literal["deletion"] = "deletion"
    schema_version: Literal[1] = DELETION_SCHEMA_VERSION
    id: MentionId  # the deleted mention's id, "<source>:<native id>"
    source: Source
    deleted_at: AwareDatetime  # as the platform says, else when the connector heard of it
    reason: Literal["author_deleted", "removed", "hidden"] = "author_deleted"
    author_key: str | None = None  # customer key of the author when the platform names them (ordering hint)
    ingested_at: AwareDatetime | None = None
