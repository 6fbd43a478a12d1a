"""Facebook/Instagram webhooks: the verification challenge, X-Hub-Signature-256 (bad ones get
403), page feed + Instagram comment/mention events (the mention's text from a fake Graph API
that first answers 429), a malformed delivery, size limit, retries and a restart deduped."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.meta import MetaConfig, MetaWebhookConnector
from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from schemas import DeadLetterReason
from schemas.mention import Channel, Source
from tests.fixtures.connectors.fakes import Recorder, fixture, serve, wait_until

SECRET = "meta-app-secret"
PAGE_FEED = json.dumps(fixture("meta", "page_feed.json")).encode()
INSTAGRAM = json.dumps(fixture("meta", "instagram.json")).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def graph(state: dict, seen: Recorder) -> Starlette:
    async def ig_user(request: Request) -> Response:
        seen.add(request.url.path, request.query_params, request.headers)
        if state.pop("throttle", False):
            return JSONResponse({"error": {"message": "(#4) Application request limit reached", "code": 4}},
                                status_code=429, headers={"Retry-After": "1"})
        assert request.query_params["fields"].startswith("mentioned_comment.comment_id(17887498072083520)")
        return JSONResponse(fixture("meta", "graph_mentioned_comment.json"))
    return Starlette(routes=[Route("/v21.0/{ig_user}", ig_user)])


async def start(graph_base: str, sink, store):
    config = MetaConfig(name="meta-test", port=0, app_secret=SECRET, verify_token="hamhock", access_token="page-token",
                        graph_url=f"{graph_base}/v21.0", max_body_bytes=4096, commit_every=1,
                        brands=[{"name": "PakjePost", "own_accounts": ["104729348234", "17841400000000001"]}])
    connector = MetaWebhookConnector(config, sink, store)
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    await asyncio.wait_for(connector.ready.wait(), 30)
    return connector, stop, task, f"http://127.0.0.1:{connector.bound_port}/meta/webhook"


def test_meta_webhooks_end_to_end():
    state, seen, sink, store = {"throttle": True}, Recorder(), MemorySink(), MemoryCheckpointStore()
    out: dict = {}

    async def main():
        async with serve(graph(state, seen)) as graph_base, httpx.AsyncClient(timeout=30) as http:
            connector, stop, task, url = await start(graph_base, sink, store)
            ok = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "hamhock",
                                             "hub.challenge": "1158201444"})
            bad = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                              "hub.challenge": "1158201444"})
            out["verify"] = (ok.status_code, ok.text, bad.status_code)
            out["forged"] = (await http.post(url, content=PAGE_FEED, headers=signed(PAGE_FEED, "wrong"))).status_code
            out["unsigned"] = (await http.post(url, content=PAGE_FEED)).status_code
            out["after_forged"] = len(sink.mentions)
            out["feed"] = await http.post(url, content=PAGE_FEED, headers=signed(PAGE_FEED))
            out["ig"] = await http.post(url, content=INSTAGRAM, headers=signed(INSTAGRAM))
            out["retry"] = await http.post(url, content=PAGE_FEED, headers=signed(PAGE_FEED))  # Meta retries
            broken = b'{"object": "page", "entry": [{"id": "1", '
            out["broken"] = (await http.post(url, content=broken, headers=signed(broken))).status_code
            big = b'{"object": "page", "entry": []}' + b" " * 5000
            out["big"] = (await http.post(url, content=big, headers=signed(big))).status_code
            out["healthz"] = (await http.get(url.replace("/meta/webhook", "/healthz"))).json()
            out["published_before_restart"] = len(sink.mentions)
            stop.set()
            out["stats"] = await task
            # a restart remembers what it published: a late retry of the same delivery is dropped
            connector2, stop2, task2, url2 = await start(graph_base, sink, store)
            out["late_retry"] = (await http.post(url2, content=PAGE_FEED, headers=signed(PAGE_FEED))).status_code
            stop2.set()
            out["stats2"] = await task2

    asyncio.run(main())
    assert out["verify"] == (200, "1158201444", 403)
    assert out["forged"] == 403 and out["unsigned"] == 403 and out["after_forged"] == 0
    assert out["feed"].status_code == 200 and out["feed"].text == "EVENT_RECEIVED"
    assert out["ig"].status_code == 200 and out["retry"].status_code == 200
    assert out["broken"] == 200 and out["big"] == 413 and out["healthz"]["status"] == "ok"
    assert sink.ids == ["facebook:104729348234_555_7001", "facebook:104729348234_556", "instagram:17865799348089039",
                        "instagram:17887498072083520"], "the reaction is no mention; the retry is deduped"
    comment, status, ig_comment, ig_mention = sink.mentions
    assert comment.channel == Channel.own and comment.brand == "PakjePost" and comment.author.handle == "6001"
    assert comment.author.display_name == "Fleur Visser" and comment.in_reply_to == "104729348234_555"
    assert status.text == "Waarom kan ik niet meer kiezen voor avondbezorging?" and status.source == Source.facebook
    assert ig_comment.source == Source.instagram and ig_comment.author.handle == "lotte.vd"
    assert ig_mention.text == "@pakjepost my parcel went to the wrong city" and ig_mention.author.handle == "emma_w"
    # the Graph API said 429 + Retry-After: 1 once; the lookup waited and retried
    lookups = seen.to("/v21.0/17841400000000001")
    assert len(lookups) == 2 and lookups[1]["at"] - lookups[0]["at"] >= 1.0
    assert lookups[1]["headers"]["authorization"] == "Bearer page-token"
    assert [d.reason for d in sink.dead_letters] == [DeadLetterReason.malformed_json]
    assert out["stats"].duplicates == 2 and out["late_retry"] == 200 and out["stats2"].duplicates == 2
    assert len(sink.mentions) == out["published_before_restart"] == 4
