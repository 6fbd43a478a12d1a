"""Generic webhook ingest: per-sender API keys, HMAC signatures (bad ones get 401), a stale
timestamp, the size limit, a malformed body, invalid items dead-lettered, duplicates."""
from __future__ import annotations

import asyncio
import json
import time

import httpx

from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from connectors.webhook import WebhookConfig, WebhookIngestConnector
from core.signing import sign_timestamped as sign
from schemas import DeadLetterReason
from schemas.mention import Channel, Source
from tests.fixtures.connectors.fakes import fixture

KEYS = {"helpdesk": "helpdesk-secret", "whatsapp": "wa-secret"}
BATCH = json.dumps(fixture("webhook", "helpdesk_batch.json")).encode()
WHATSAPP = json.dumps({"id": "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTRB", "text": "Hoi, mijn pakket is nog niet bezorgd",
                       "author": {"handle": "+31612345678", "display_name": "Noa"},
                       "created_at": "2026-10-01T10:00:00Z"}).encode()


def headers(key: str, body: bytes, *, secret: str | None = None, stamp: int | None = None) -> dict[str, str]:
    ts = str(stamp if stamp is not None else int(time.time()))
    return {"X-Luister-Key": key, "X-Luister-Timestamp": ts,
            "X-Luister-Signature": sign(secret or KEYS[key], ts, body), "Content-Type": "application/json"}


def test_generic_webhook_ingest():
    sink, out = MemorySink(), {}
    config = WebhookConfig(
        name="hooks-test", port=0, api_keys=KEYS, max_body_bytes=4096, max_batch=10,
        senders={"helpdesk": {"source": "email", "channel": "own"},
                 "whatsapp": {"source": "whatsapp", "channel": "own", "brand": "PakjePost"}},
        brands=[{"name": "PakjePost"}])

    async def main():
        connector = WebhookIngestConnector(config, sink, MemoryCheckpointStore())
        stop = asyncio.Event()
        task = asyncio.create_task(connector.run(stop))
        await asyncio.wait_for(connector.ready.wait(), 30)
        url = f"http://127.0.0.1:{connector.bound_port}/ingest"
        async with httpx.AsyncClient(timeout=30) as http:
            out["batch"] = await http.post(url, content=BATCH, headers=headers("helpdesk", BATCH))
            out["wa"] = await http.post(url, content=WHATSAPP, headers=headers("whatsapp", WHATSAPP))
            out["again"] = await http.post(url, content=WHATSAPP, headers=headers("whatsapp", WHATSAPP))
            out["bad_sig"] = (await http.post(url, content=WHATSAPP, headers=headers("whatsapp", WHATSAPP,
                                                                                    secret="guess"))).status_code
            out["wrong_key"] = (await http.post(url, content=WHATSAPP, headers=headers("helpdesk", WHATSAPP,
                                                                                      secret="wa-secret"))).status_code
            out["unknown"] = (await http.post(url, content=WHATSAPP, headers={
                **headers("whatsapp", WHATSAPP), "X-Luister-Key": "intruder"})).status_code
            out["stale"] = (await http.post(url, content=WHATSAPP, headers=headers(
                "whatsapp", WHATSAPP, stamp=int(time.time()) - 3600))).status_code
            out["none"] = (await http.post(url, content=WHATSAPP)).status_code
            # a signature header with characters outside ASCII is a bad signature (401), not a crash (500)
            odd = {**headers("whatsapp", WHATSAPP), "X-Luister-Signature": "sha256=\u00e9t\u00e9".encode("latin-1")}
            out["non_ascii"] = (await http.post(url, content=WHATSAPP, headers=odd)).status_code
            big = b'{"mentions": [' + b" " * 5000 + b"]}"
            out["big"] = (await http.post(url, content=big, headers=headers("helpdesk", big))).status_code
            broken = b'{"id": "x", "text": '
            out["broken"] = await http.post(url, content=broken, headers=headers("helpdesk", broken))
            out["after_refusals"] = len(sink.mentions)
        stop.set()
        out["stats"] = await task

    asyncio.run(main())
    batch = out["batch"]
    assert batch.status_code == 202, batch.text
    body = batch.json()
    assert body["accepted"] == ["helpdesk.ticket-4411", "helpdesk.ticket-4414"]
    assert [r["index"] for r in body["rejected"]] == [1, 2] and "text" in body["rejected"][0]["reason"]
    assert "priority" in body["rejected"][1]["reason"], "unknown fields are refused (extras belong in raw)"
    assert out["wa"].status_code == 202 and out["wa"].json()["accepted"] == [
        "whatsapp.wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTRB"]
    assert out["again"].status_code == 202 and out["again"].json()["duplicates"] == 1
    assert (out["bad_sig"], out["wrong_key"], out["unknown"], out["stale"], out["none"], out["non_ascii"]) == \
        (401, 401, 401, 401, 401, 401)
    assert out["big"] == 413 and out["broken"].status_code == 400
    assert out["after_refusals"] == 3
    mentions = {m.id: m for m in sink.mentions}
    ticket = mentions["email:helpdesk.ticket-4411"]
    assert ticket.source == Source.email and ticket.channel == Channel.own and ticket.brand == "PakjePost"
    assert ticket.author.display_name == "Kees Smit" and ticket.created_at.utcoffset().total_seconds() == 7200
    wa = mentions["whatsapp:whatsapp.wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTRB"]
    assert wa.source == Source.whatsapp and wa.brand == "PakjePost" and wa.matched_keyword is None, \
        "the sender's brand applies even when the text does not name it"
    reasons = [d.reason for d in sink.dead_letters]
    assert reasons == [DeadLetterReason.schema_violation, DeadLetterReason.schema_violation,
                       DeadLetterReason.malformed_json]  # the empty text, the unknown field, the broken body
