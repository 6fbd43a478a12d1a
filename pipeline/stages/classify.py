"""classify: mentions.normalized -> classified and enriched -> mentions.enriched (to the profile stage).

The model and the enrichers run off the event loop. Batches overlap (pipeline/inflight.py): while
one is enriched and sent, the next is in the model. Events are acked by hand, in order, once their
outputs are sent."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from core import metrics
from enrichers.stage import enrich_batch
from pipeline import resources, topics
from pipeline.app import app, settings
from pipeline.classify import classified, texts_and_languages
from pipeline.dead_letters import dead_letter_event
from pipeline.faults import describe, maybe_fail
from pipeline.inflight import InOrderBatches
from pipeline.trace import trace
from schemas import DeadLetterReason, RawMention

log = logging.getLogger(__name__)

# The model's own threads: up to `classify_in_flight` batches run at once, each on
# `classifier_threads` ONNX threads (the enrichers use the loop's default executor).
model_executor = ThreadPoolExecutor(max_workers=settings.classify_in_flight, thread_name_prefix="model")


@app.agent(topics.normalized_mentions)
async def classify(stream):
    """mentions.normalized -> classified + enriched (to the profile stage), model and enrichers off the loop."""
    loop = asyncio.get_running_loop()

    async def finish(batch: tuple[list, list, list[RawMention], asyncio.Future]) -> None:
        events, kept, mentions, model_call = batch
        try:
            results = await model_call
        except Exception:  # noqa: BLE001 - one text may have broken the batch: find it, keep the rest
            log.exception("model call failed for a batch; classifying its mentions one at a time")
            kept, mentions, results = await _classify_one_by_one(loop, kept, mentions)
        await _send_classified(loop, kept, mentions, results)
        for event in events:
            await stream.ack(event)

    batches = InOrderBatches(settings.classify_in_flight, finish)
    try:
        async for events in stream.noack_take(settings.classify_batch_size, within=settings.batch_within_seconds):
            mentions: list[RawMention] = []
            kept = []
            for event in events:
                try:
                    mentions.append(RawMention.model_validate_json(event.message.value))
                    kept.append(event)
                except ValueError as exc:  # only if someone else writes to this topic
                    await dead_letter_event(event, "classify", DeadLetterReason.schema_violation, str(exc), None)
            texts, languages = texts_and_languages(mentions)
            await batches.submit(lambda: (events, kept, mentions, _start_model(loop, texts, languages)))
    finally:
        await batches.close()


def _start_model(loop: asyncio.AbstractEventLoop, texts: list[str], languages: list[str | None]) -> asyncio.Future:
    if not texts:
        done = loop.create_future()
        done.set_result([])
        return done
    metrics.MODEL_BATCH_SIZE.labels(classifier=settings.classifier).observe(len(texts))
    return loop.run_in_executor(model_executor, _timed_classify, texts, languages)


async def _classify_one_by_one(loop: asyncio.AbstractEventLoop, kept: Sequence, mentions: Sequence[RawMention]
                               ) -> tuple[list, list[RawMention], list]:
    """Each mention alone; one that still fails goes to the DLQ with the error."""
    out_events, out_mentions, results = [], [], []
    for event, mention in zip(kept, mentions, strict=True):
        texts, languages = texts_and_languages([mention])
        try:
            [result] = await loop.run_in_executor(model_executor, _timed_classify, texts, languages)
        except Exception as exc:  # noqa: BLE001 - this one record, with the reason
            await dead_letter_event(event, "classify", DeadLetterReason.processing_error, describe(exc), mention.id)
            continue
        out_events.append(event)
        out_mentions.append(mention)
        results.append(result)
    return out_events, out_mentions, results


def _timed_classify(texts: list[str], languages: list[str | None]) -> list:
    with metrics.MODEL_SECONDS.labels(classifier=settings.classifier).time():
        return resources.classify_batch()(texts, languages)


async def _send_classified(loop: asyncio.AbstractEventLoop, kept: Sequence, mentions: Sequence[RawMention],
                           results: Sequence) -> None:
    """Classified + enriched mentions to the profile stage; what cannot be built, to the DLQ."""
    if not mentions:
        return
    started = time.perf_counter()
    processed_at = datetime.now(timezone.utc)
    model_version = resources.classifier().model_version
    done = []
    for event, mention, result in zip(kept, mentions, results, strict=True):
        try:
            maybe_fail("classify", mention.id)
            out = classified(mention, result, model_version=model_version, processed_at=processed_at)
            done.append((event, out.model_copy(update={"customer_id": (event.message.key or b"").decode()
                                                       or out.customer_id})))
        except Exception as exc:  # noqa: BLE001 - this one record to the DLQ, the rest of the batch on
            await dead_letter_event(event, "classify", DeadLetterReason.processing_error, describe(exc), mention.id)
    severity = resources.triage().severity_config()
    try:
        outs = await loop.run_in_executor(None, enrich_batch, [o for _, o in done], severity)
    except Exception:  # noqa: BLE001 - one mention broke the enrichers: each alone, the culprit to the DLQ
        log.exception("enriching a batch failed; enriching its mentions one at a time")
        kept_done, outs = [], []
        for event, out in done:
            try:
                [enriched] = await loop.run_in_executor(None, enrich_batch, [out], severity)
            except Exception as exc:  # noqa: BLE001
                await dead_letter_event(event, "classify", DeadLetterReason.processing_error, describe(exc), out.id)
                continue
            kept_done.append((event, out))
            outs.append(enriched)
        done = kept_done
    for (event, _), out in zip(done, outs, strict=True):
        metrics.STAGE_EVENTS.labels(stage="classify", outcome="ok").inc()
        trace.info("classified", extra={"stage": "classify", "mention_id": out.id, "type": str(out.type),
                                        "sentiment": str(out.sentiment)})
        await topics.enriched_mentions.send(key=event.message.key,
                                            value=out.model_dump_json(exclude_none=True).encode())
    metrics.STAGE_SECONDS.labels(stage="classify").observe(time.perf_counter() - started)
