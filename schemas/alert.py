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
    acknowledged = "acknowledged"  # a person took it (`luister alerts ack`); the detector never sends it


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
    # 0 for `open`, +1 for each update and the resolve: (id, sequence) names one version of the alert
    sequence: Annotated[int, Field(ge=0)] = 0

    @property
    def version_id(self) -> str:
        # an acknowledgement is out of band: it keeps the sequence of the version it acknowledged
        suffix = ".ack" if self.status == AlertStatus.acknowledged else ""
        return f"{self.id}#{self.sequence:04d}{suffix}"
