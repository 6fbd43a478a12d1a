"""Crisis alerts, as published to the `alerts` topic and delivered to on-call staff."""
from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.mention import SCHEMA_VERSION, _Strict


class AlertKind(StrEnum):
    negative_surge = "negative_surge"
    severe_mention = "severe_mention"
    repeated_negativity_spreading = "repeated_negativity_spreading"


class AlertStatus(StrEnum):
    open = "open"
    update = "update"
    resolved = "resolved"


class Alert(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    # Stable per brand/topic/kind episode, so an update or resolve replaces the same alert.
    id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    kind: AlertKind
    status: AlertStatus
    brand: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    topic: Annotated[str, StringConstraints(max_length=200)] | None = None
    severity: Annotated[int, Field(ge=0, le=3)]
    summary: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    mention_ids: list[str] = []
    evidence: dict[str, Any] = {}
