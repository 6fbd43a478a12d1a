"""forget_deleted: deletions -> the deletion recorded, the mention out of Elasticsearch (every monthly
index) and out of its customer's history (an order to customer_control).

The index stage asks the same record before and after each bulk write (pipeline/stages/index.py),
so a deletion that overtakes its mention, or races with its write, still wins."""
from __future__ import annotations

import json
import logging

from core import metrics
from pipeline import topics
from pipeline.app import app, settings
from pipeline.dead_letters import dead_letter_event
from pipeline.es_wait import until_elasticsearch
from pipeline.trace import trace
from schemas import DeadLetterReason, MentionDeletion
from sinks.elasticsearch import sink_client
from sinks.elasticsearch.deletions import ensure_deletions_index, record_deletions, remove_mentions

log = logging.getLogger(__name__)


async def connect():
    client = sink_client(settings.es_url, settings.es_request_timeout)

    async def attempt():
        await ensure_deletions_index(client, settings.es_deletions_index)
        return client

    return await until_elasticsearch(attempt, what="elasticsearch for deletions", log=log)


@app.agent(topics.mention_deletions)
async def forget_deleted(stream):
    """deletions -> recorded, removed from the mention indices and from the customer's history."""
    client = await connect()
    async for events in stream.take_events(settings.es_bulk_size, within=settings.es_sink_within_seconds):
        deletions: list[MentionDeletion] = []
        for event in events:
            try:
                deletions.append(MentionDeletion.model_validate_json(event.message.value))
            except ValueError as exc:  # only if someone else writes to this topic
                await dead_letter_event(event, "forget_deleted", DeadLetterReason.schema_violation, str(exc), None)
        # first the record (the index stage reads it), then the removal: in this order no write slips between
        await until_elasticsearch(lambda: record_deletions(client, settings.es_deletions_index, deletions),
                                  what="recording deletions", log=log)
        removed = await until_elasticsearch(
            lambda: remove_mentions(client, settings.es_index_prefix, [d.id for d in deletions]),
            what="removing deleted mentions", log=log)
        for mention_id, customer_id in removed.items():
            if customer_id:
                await topics.customer_control.send(key=customer_id.encode(), value=json.dumps(
                    {"op": "forget_mention", "mention_id": mention_id}).encode())
        for deletion in deletions:
            trace.info("deleted", extra={"stage": "forget_deleted", "mention_id": deletion.id,
                                         "found": deletion.id in removed})
        metrics.STAGE_EVENTS.labels(stage="forget_deleted", outcome="removed").inc(len(removed))
        metrics.STAGE_EVENTS.labels(stage="forget_deleted", outcome="not_indexed").inc(len(deletions) - len(removed))
