"""normalize: mentions.raw -> mentions.normalized (keyed by customer id) | deletions | dead letters."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from core import metrics
from pipeline import resources, topics
from pipeline.app import app, settings
from pipeline.dead_letters import dead_letter_event, send_dead_letter
from pipeline.faults import describe, maybe_fail, maybe_stall
from pipeline.normalize import normalize as normalize_record
from pipeline.trace import trace
from schemas import DeadLetter, DeadLetterReason, MentionDeletion, RawMention


def customer_id_of(mention: RawMention) -> str:
    """The customer behind this mention's account (itself, when no one linked it).

    Resolved here so every topic after this one is keyed by customer: all of one customer's
    accounts land on one partition, in order (docs/triage.md)."""
    return resources.registry().resolve(mention.customer_key)


@app.agent(topics.raw_mentions)
async def normalize(stream):
    """mentions.raw -> mentions.normalized (keyed by customer_id) | dead letters."""
    await resources.follower().ready.wait()  # the linked identities known at start-up, before any mention is keyed
    async for events in stream.take_events(settings.normalize_batch_size, within=settings.batch_within_seconds):
        started = time.perf_counter()
        for event in events:
            msg = event.message
            mention_id = None
            try:
                result = normalize_record(msg.value, received_at=datetime.now(timezone.utc), topic=msg.topic,
                                          partition=msg.partition, offset=msg.offset, key=msg.key)
                if isinstance(result, RawMention):
                    mention_id = result.id
                    maybe_fail("normalize", result.id)
                    key = customer_id_of(result).encode()
            except Exception as exc:  # noqa: BLE001 - a bug on one record: that record to the DLQ, the rest on
                await dead_letter_event(event, "normalize", DeadLetterReason.processing_error, describe(exc),
                                        mention_id)
                continue
            if isinstance(result, DeadLetter):
                await send_dead_letter(result)
                continue
            await maybe_stall("normalize", mention_id)
            if isinstance(result, MentionDeletion):
                metrics.STAGE_EVENTS.labels(stage="normalize", outcome="deletion").inc()
                await topics.mention_deletions.send(key=result.id.encode(), value=msg.value)
                continue
            metrics.STAGE_EVENTS.labels(stage="normalize", outcome="ok").inc()
            trace.info("normalized", extra={"stage": "normalize", "mention_id": result.id, "offset": msg.offset,
                                            "partition": msg.partition})
            await topics.normalized_mentions.send(key=key, value=msg.value)
        metrics.STAGE_SECONDS.labels(stage="normalize").observe(time.perf_counter() - started)
