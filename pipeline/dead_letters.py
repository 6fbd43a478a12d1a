"""Sending what a stage cannot handle to the dead-letter topic, with the reason. Every stage uses these."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from core import metrics
from pipeline import topics
from schemas import DeadLetter, DeadLetterReason

log = logging.getLogger(__name__)


async def send_dead_letter(letter: DeadLetter) -> None:
    metrics.STAGE_EVENTS.labels(stage=letter.stage, outcome="dlq").inc()
    metrics.DEAD_LETTERS.labels(stage=letter.stage, reason=letter.reason.value).inc()
    log.warning("dead-lettered", extra={"stage": letter.stage, "reason": letter.reason.value,
                                        "detail": letter.detail[:200], "mention_id": letter.mention_id,
                                        "offset": letter.offset})
    await topics.dead_letters.send(key=letter.id.encode(), value=letter.model_dump_json().encode())


async def dead_letter_event(event, stage: str, reason: DeadLetterReason, detail: str,
                            mention_id: str | None) -> None:
    """Dead-letter the record behind a Faust event, with its original bytes and where it was read."""
    msg = event.message
    await send_dead_letter(DeadLetter.build(
        stage=stage, reason=reason, detail=detail, original=msg.value or b"", received_at=datetime.now(timezone.utc),
        topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key, mention_id=mention_id,
    ))
