"""Turn raw mentions plus the classifier's answers into `ClassifiedMention`s. Pure."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from classifiers.base import Classification
from schemas import ClassifiedMention, RawMention
from schemas.mention import utc_latency_ms


def classified(raw: RawMention, result: Classification, *, model_version: str, processed_at: datetime) -> ClassifiedMention:
    return ClassifiedMention.from_raw(
        raw,
        type=result.type,
        type_scores=result.type_scores,
        sentiment=result.sentiment,
        sentiment_score=result.sentiment_score,
        # one customer per account until linked identities map several accounts to one
        customer_id=raw.customer_key,
        model_version=model_version,
        processed_at=processed_at,
        pipeline_latency_ms=utc_latency_ms(raw.ingested_at, processed_at),
    )


def texts_and_languages(mentions: Sequence[RawMention]) -> tuple[list[str], list[str | None]]:
    return [m.text for m in mentions], [m.lang_hint for m in mentions]
