"""Faust wiring of the customer stages (logic in pipeline/customers/ and enrichers/).

    normalize ──(key: customer_id, from the registry)──► classify + enrich
        ──► mentions.enriched ──► profile (table `customers`, keyed by customer_id)
        ──► mentions.classified (final)      and ──► customer-profiles ──► ES customers index

Why resolve the customer in normalize: every topic after it is then keyed by
customer_id, so all of one customer's accounts land on one partition, in order, and
the profile stage's table is co-partitioned with its input without an extra
repartition hop.

The profile agent takes a batch (`take_events`) and folds it in arrival order; Faust's
table store writes each key into the partition of the *current* event, so each key is
read and written with its own event made current (`as_current`, pipeline/faust_compat.py).
Concurrency stays 1 because it writes a table.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from elasticsearch import AsyncElasticsearch
from pydantic_core import to_json

from core import metrics
from core.retry import until_ready
from enrichers.reply import ReplyBook
from pipeline import resources, topics
from pipeline.app import app, settings
from pipeline.customers.judge import finalize
from pipeline.customers.merge import merge_states
from pipeline.customers.observe import observe
from pipeline.customers.profile_doc import customers_mapping, profile_document
from pipeline.customers.registry import load_index
from pipeline.customers.state import CustomerState, remove_item
from pipeline.dead_letters import dead_letter_event
from pipeline.es_wait import until_elasticsearch
from pipeline.faults import describe, maybe_fail
from pipeline.faust_compat import as_current
from schemas import ClassifiedMention, DeadLetterReason
from sinks.elasticsearch import BulkWriter, sink_client

log = logging.getLogger(__name__)

customers = app.Table(
    "customers", default=None, partitions=settings.topic_partitions,
    key_type=bytes, value_type=None,  # keys raw (the customer_id as on the topics), values JSON (CustomerState)
    # no use_partitioner: every write happens while handling an event keyed by the same id on a
    # co-partitioned topic, so the event's partition is the key's (and Faust checks the counts match)
    help="CustomerState (pipeline/customers/state.py) per customer_id",
)


async def _load_registry_index() -> None:
    if not settings.customer_registry_index:
        return
    async with AsyncElasticsearch(settings.es_url, request_timeout=settings.es_request_timeout) as es:
        resources.registry().extend(await load_index(es, settings.customer_registry_index))


@app.task
async def warm_language_detector() -> None:
    """Build lingua's detector (models preloaded, a few seconds) before the first batch needs it."""
    from enrichers.language import detector

    started = time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, detector)
    log.info("language detector ready", extra={"seconds": round(time.perf_counter() - started, 2)})


@app.task
async def follow_customer_registry() -> None:
    """Registry file (pipeline/resources.py) < registry index < the compacted topic, followed for the worker's life."""
    from core.kafka_admin import ensure_topics

    async def attempt() -> None:
        await asyncio.get_running_loop().run_in_executor(None, ensure_topics, settings, ["account_links"])
        await _load_registry_index()

    # normalize waits for the registry: keep trying rather than die
    await until_ready(attempt, what="customer registry", log=log)
    metrics.REGISTRY_LINKS.set(len(resources.registry()))
    await resources.follower().run()


@dataclass
class _Customer:
    """One customer while a batch is folded in: its state loaded once and written once."""

    event: Any  # the customer's latest event in the batch: its partition is the key's
    state: CustomerState | None
    name: str | None = None
    changed: bool = False


@app.agent(topics.enriched_mentions)
async def profile(stream):
    """mentions.enriched -> customer state -> mentions.classified (+ customer-profiles), a batch at a time.

    A customer with several mentions in a batch has its state read, written and its profile
    document sent once for the batch instead of once per mention."""
    async for events in stream.take_events(settings.profile_batch_size, within=settings.batch_within_seconds):
        started = time.perf_counter()
        rejects, folded, outs = _fold(events)
        for event, reason, detail, mention_id in rejects:
            await dead_letter_event(event, "profile", reason, detail, mention_id)
        updated_at = datetime.now(timezone.utc).isoformat()
        for key, customer in folded.items():
            # also for a replay after a crash: the table already had the mention, but the profile document
            # sent for it may have been lost with the crash; resend it (an idempotent upsert)
            doc = profile_document(customer.state, resources.triage().history, name=customer.name, updated_at=updated_at)
            await topics.customer_profiles.send(key=key, value=to_json(doc))  # pydantic's serialiser: several times json's speed
        for key, out in outs:
            await topics.classified_mentions.send(key=key, value=out.model_dump_json(exclude_none=True).encode())
        metrics.STAGE_SECONDS.labels(stage="profile").observe(time.perf_counter() - started)


def _fold(events) -> tuple[list[tuple], dict[bytes, _Customer], list[tuple[bytes, ClassifiedMention]]]:
    """Fold a batch into the customers' states, in order, and write the changed states to the table.

    No await from the first read to the last write: the customer_control agent (erase, move) sees
    the table before or after a batch, never in between. Returns the rejects for the DLQ
    (event, reason, detail, mention id), the customers touched and the finished mentions."""
    rejects: list[tuple] = []
    folded: dict[bytes, _Customer] = {}
    outs: list[tuple[bytes, ClassifiedMention]] = []
    triage, links = resources.triage(), resources.registry().links
    for event in events:
        msg = event.message
        try:
            mention = ClassifiedMention.model_validate_json(msg.value)
        except ValueError as exc:
            rejects.append((event, DeadLetterReason.schema_violation, str(exc), None))
            continue
        key = msg.key or mention.customer_id.encode()
        try:
            maybe_fail("profile", mention.id)
            customer = folded.get(key) or _load(key, event)
            new_state, verdict, is_new = observe(customer.state, mention, triage)
            out = finalize(mention, verdict, triage, ReplyBook.load(settings.replies_dir, mention.brand))
        except Exception as exc:  # noqa: BLE001 - one bad mention must not stop the customer's stream
            rejects.append((event, DeadLetterReason.processing_error, describe(exc), mention.id))
            continue
        link = links.get(mention.customer_key)
        customer.event, customer.state, customer.name = event, new_state, link.name if link else None
        customer.changed = customer.changed or is_new
        folded[key] = customer
        outs.append((key, out))
        if is_new:
            metrics.PERSONA_VERDICTS.labels(persona=verdict.persona.value).inc()
            if verdict.repeated:
                metrics.REPEATED_NEGATIVITY.inc()
        metrics.STAGE_EVENTS.labels(stage="profile", outcome="ok" if is_new else "replayed").inc()
    for key, customer in folded.items():
        if customer.changed:
            with as_current(customer.event):
                customers[key] = customer.state.model_dump(mode="json")  # assigned back: the changelog records it
    return rejects, folded, outs


def _load(key: bytes, event) -> _Customer:
    with as_current(event):
        stored = customers.get(key)
    return _Customer(event, CustomerState.load(stored) if stored else None)


def _save(key: bytes, state: CustomerState, name: str | None = None) -> dict:
    customers[key] = state.model_dump(mode="json")  # assigned back: the changelog records it
    return profile_document(state, resources.triage().history, name=name, updated_at=datetime.now(timezone.utc).isoformat())


@app.agent(topics.customer_orders)
async def customer_control(stream):
    """Erase a customer's state (and their linked accounts'), or move an account's history into
    the customer it was linked to later. One event at a time: it writes the table."""
    async for event in stream.events():
        try:
            await _apply_order(event)
        except Exception as exc:  # noqa: BLE001 - one bad order to the DLQ; the customer's others go on
            await dead_letter_event(event, "customer_control", DeadLetterReason.processing_error, describe(exc), None)


async def _apply_order(event) -> None:
    """One erase/move/absorb/forget_mention order against the `customers` table."""
    msg = event.message
    key = msg.key
    try:
        body = json.loads(msg.value or b"{}")
        op = body.get("op", "erase")  # records from `luister forget` carry no op: they erase
    except ValueError as exc:
        await dead_letter_event(event, "customer_control", DeadLetterReason.malformed_json, str(exc), None)
        return
    if not key:
        return
    stored = customers.get(key)
    registry = resources.registry()
    if op == "erase":
        linked = CustomerState.load(stored).accounts if stored else []
        if stored is not None:
            del customers[key]
        await topics.customer_profiles.send(key=key, value=None)  # tombstone: the profile document goes too
        for account in {*linked, *registry.accounts_of(key.decode())} - {key.decode()}:
            await topics.customer_control.send(key=account.encode(), value=json.dumps({"op": "erase"}).encode())
            if registry.links.get(account) and registry.links[account].customer_id == key.decode():
                await topics.account_links.send(key=account.encode(), value=None)  # unlink: no personal data left
        log.info("customer state erased", extra={"customer_id": key.decode(), "accounts": len(linked)})
    elif op == "move" and stored is not None and body.get("into") and body["into"].encode() != key:
        del customers[key]
        await topics.customer_profiles.send(key=key, value=None)
        await topics.customer_control.send(key=body["into"].encode(), value=json.dumps(
            {"op": "absorb", "from": key.decode(), "state": stored}).encode())
        log.info("customer history moved", extra={"from": key.decode(), "into": body["into"]})
    elif op == "forget_mention" and stored is not None:  # its author deleted it (stages/deletions.py)
        state = CustomerState.load(stored)
        kept = remove_item(state, body.get("mention_id", ""))
        if kept is not None:
            link = registry.links.get(key.decode())
            doc = _save(key, kept, link.name if link else None)
            await topics.customer_profiles.send(key=key, value=json.dumps(doc, ensure_ascii=False).encode())
    elif op == "absorb":
        moved = CustomerState.load(body["state"])
        merged = merge_states(CustomerState.load(stored) if stored else None, moved, key.decode(),
                              resources.triage().history)
        link = registry.links.get(moved.customer_id)
        doc = _save(key, merged, link.name if link else None)
        await topics.customer_profiles.send(key=key, value=json.dumps(doc, ensure_ascii=False).encode())
    metrics.STAGE_EVENTS.labels(stage="customer_control", outcome=op).inc()


async def _customers_writer() -> BulkWriter:
    client = sink_client(settings.es_url, settings.es_request_timeout)

    async def attempt() -> BulkWriter:
        if not await client.indices.exists(index=settings.es_customers_index):
            await client.options(ignore_status=400).indices.create(
                index=settings.es_customers_index, mappings=customers_mapping(),
                settings={"number_of_shards": 1, "number_of_replicas": 0})
        else:  # fields added since the index was made (additive changes only)
            await client.indices.put_mapping(index=settings.es_customers_index,
                                             properties=customers_mapping()["properties"])
        return BulkWriter(client, settings.es_customers_index, chunk_size=settings.es_bulk_size,
                          max_chunk_bytes=settings.es_bulk_max_bytes, initial_backoff=settings.es_retry_initial_seconds,
                          max_backoff=settings.es_retry_max_seconds)

    return await until_elasticsearch(attempt, what="elasticsearch for customer profiles", log=log)


@app.agent(topics.customer_profiles)
async def index_profiles(stream):
    """customer-profiles -> Elasticsearch customers index (_id = customer_id, the newest wins)."""
    writer = await _customers_writer()
    async for events in stream.take_events(settings.es_bulk_size, within=settings.es_sink_within_seconds):
        latest = {e.message.key: e.message.value for e in events if e.message.key}  # the newest per customer
        docs = [(k.decode(), json.loads(v)) for k, v in latest.items() if v]
        for gone in (k.decode() for k, v in latest.items() if not v):  # tombstone: erased or moved away
            await writer.client.options(ignore_status=404).delete(index=settings.es_customers_index, id=gone)
        result = await writer.write(docs)
        for rejected in result.rejected:
            log.error("customer profile rejected", extra={"customer_id": rejected.doc_id, "status": rejected.status,
                                                          "reason": rejected.reason[:300]})
        metrics.STAGE_EVENTS.labels(stage="index_profiles", outcome="ok").inc(result.indexed)
