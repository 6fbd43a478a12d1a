"""Mastodon against a fake instance: SSE hashtag stream, a drop mid-stream filled from the
REST timeline (min_id), a 429 with Retry-After, a malformed event, a restart, and polling."""
from __future__ import annotations

import asyncio
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connectors.mastodon import MastodonConfig, MastodonConnector
from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from schemas import DeadLetterReason
from schemas.mention import Channel
from tests.fixtures.connectors.fakes import Recorder, fixture, run_until, serve

STATUSES = fixture("mastodon", "hashtag_statuses.json")  # oldest first: s1..s6
S = {n + 1: s for n, s in enumerate(STATUSES)}


def sse(status) -> str:
    return f"event: update\ndata: {json.dumps(status)}\n\n"


def instance(state: dict, seen: Recorder) -> Starlette:
    """Posts become visible over time: `state['visible']` is how many of s1..s6 exist now."""

    async def stream(request: Request) -> Response:
        seen.add("/streaming/hashtag", request.query_params, request.headers)
        state["connections"] += 1
        n = state["connections"]
        if n == 2:
            return Response("Too many requests", status_code=429, headers={"Retry-After": "1"})

        async def events():
            yield ":)\n\n"
            if n == 1:
                yield sse(S[1])
                yield sse(S[2])
                yield "event: update\ndata: {\"id\": \"113000000000000099\", \"content\": \n\n"  # malformed
                yield "event: delete\ndata: 113000000000000001\n\n"
                state["visible"] = 4  # s3 and s4 are posted while the connection is down
                raise ConnectionResetError("the instance dropped the stream")
            if n == 3:
                yield sse(S[4])  # also delivered by the catch-up: dropped as a duplicate
                state["visible"] = 5
                yield sse(S[5])
            while True:
                await asyncio.sleep(0.2)
                yield ":thump\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    async def timeline(request: Request) -> Response:
        seen.add(request.url.path, request.query_params, request.headers)
        visible = [S[i] for i in range(1, state["visible"] + 1)]
        min_id = request.query_params.get("min_id")
        newer = [s for s in visible if not min_id or int(s["id"]) > int(min_id)]
        page = list(reversed(newer[: int(request.query_params.get("limit", 20))]))  # newest first
        return JSONResponse(page, headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                                           "X-RateLimit-Reset": "2026-10-01T12:05:00.000Z"})

    return Starlette(routes=[Route("/api/v1/streaming/hashtag", stream),
                             Route("/api/v1/timelines/tag/{tag}", timeline)])


def make(base: str, sink, store, **extra) -> MastodonConnector:
    config = MastodonConfig(name="masto-test", base_url=base, domain="social.example", streams=["hashtag:pakjepost"],
                            brands=[{"name": "PakjePost", "own_accounts": ["pakjepost@social.example"]}],
                            backoff_initial_seconds=0.1, heartbeat_timeout_seconds=5, **extra)
    return MastodonConnector(config, sink, store)


def test_mastodon_stream_gap_fill_rate_limit_malformed_and_restart():
    state, seen = {"connections": 0, "visible": 2}, Recorder()
    sink, store = MemorySink(), MemoryCheckpointStore()

    async def main():
        async with serve(instance(state, seen)) as base:
            first = make(base, sink, store)
            await run_until(first, lambda: len(sink.mentions) >= 5, what="five statuses")
            state["visible"] = 6  # the brand answers while the connector is stopped
            second = make(base, sink, store)
            await run_until(second, lambda: second.stats.own_posts >= 1, what="the catch-up after the restart")
            return first.stats, second.stats

    first, second = asyncio.run(main())
    uris = [s["uri"] for s in STATUSES[:5]]
    assert sink.ids == [f"mastodon:{u}" for u in uris], "in order, once each, nothing missing"
    m1, m2 = sink.mentions[0], sink.mentions[1]
    assert m1.text == 'Mijn pakket van #PakjePost staat al 3 dagen op "onderweg"' and m1.lang_hint == "nl"
    assert m1.author.handle == "sanne@social.example" and m1.author.followers == 312
    assert m1.channel == Channel.third_party and m1.brand == "PakjePost"
    assert m2.channel == Channel.own, "an @mention of the brand's account is its own channel"
    assert m2.author.handle == "grumpy_commuter@mastodon.example"
    # the drop was noticed and the gap filled from REST with min_id = the last status seen
    catch_ups = [r for r in seen.to("/timelines/tag/pakjepost") if r["query"].get("min_id")]
    assert catch_ups[0]["query"]["min_id"] == S[2]["id"]
    assert first.errors["network"] >= 1 and first.reconnects >= 2 and first.duplicates >= 1
    # 429 + Retry-After: 1
    assert first.errors["rate_limited"] == 1 and first.rate_limit_waits[0] == 1.0
    connects = seen.to("/streaming/hashtag")
    assert connects[2]["at"] - connects[1]["at"] >= 1.0
    # the malformed event went to the dead-letter topic with its reason
    assert [d.reason for d in sink.dead_letters] == [DeadLetterReason.malformed_json]
    assert "113000000000000099" in sink.dead_letters[0].original().decode()
    # after the restart: catch-up from the checkpoint, the brand's own reply is not a mention
    assert seen.to("/timelines/tag/pakjepost")[-1]["query"]["min_id"] in (S[5]["id"], S[6]["id"])
    assert second.own_posts == 1 and second.published == 0
    assert store.load("masto-test").cursor["hashtag:pakjepost"] == S[6]["id"]


def test_mastodon_poll_mode_reads_rest_only():
    state, seen = {"connections": 0, "visible": 3}, Recorder()
    sink = MemorySink()

    async def main():
        async with serve(instance(state, seen)) as base:
            connector = make(base, sink, MemoryCheckpointStore(), mode="poll", poll_interval_seconds=0.1)
            await run_until(connector, lambda: len(sink.mentions) >= 3, what="three statuses")
            state["visible"] = 5
            await asyncio.sleep(0)
            connector2 = make(base, sink, connector.checkpoints, mode="poll", poll_interval_seconds=0.1)
            await run_until(connector2, lambda: len(sink.mentions) >= 5, what="two more")

    asyncio.run(main())
    assert sink.ids == [f"mastodon:{s['uri']}" for s in STATUSES[:5]]
    assert not seen.to("/streaming/")
