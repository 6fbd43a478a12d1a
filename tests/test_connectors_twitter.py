"""X API v2 against a fake: rules sync, the filtered stream with keep-alives, an operational
disconnect, a 429 with x-rate-limit-reset, a malformed line, recent-search backfill, restart."""
from __future__ import annotations

import asyncio
import json
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from connectors.twitter import TwitterConfig, TwitterConnector
from schemas import DeadLetterReason
from schemas.mention import Channel
from tests.fixtures.connectors.fakes import Recorder, fixture, run_until, serve

LINES = fixture("twitter", "stream.jsonl")  # tweets ...01 to ...06, oldest first
MSG = {n + 1: json.loads(line) for n, line in enumerate(LINES)}
RULE = "(pakjepost OR @PakjePost) -is:retweet"


def x_api(state: dict, seen: Recorder) -> Starlette:
    async def rules(request: Request) -> Response:
        seen.add("/rules", request.query_params, request.headers)
        if request.method == "GET":
            return JSONResponse({"data": state["rules"], "meta": {"result_count": len(state["rules"])}}
                                if state["rules"] else {"meta": {"result_count": 0}})
        body = await request.json()
        state["rule_posts"].append(body)
        if "delete" in body:
            state["rules"] = [r for r in state["rules"] if r["id"] not in body["delete"]["ids"]]
            return JSONResponse(fixture("twitter", "rules_delete_response.json"))
        added = [{"id": "1843990000000000001", **r} for r in body["add"]]
        state["rules"] += added
        return JSONResponse({**fixture("twitter", "rules_add_response.json"), "data": added})

    async def stream(request: Request) -> Response:
        seen.add("/stream", request.query_params, request.headers)
        assert request.headers["authorization"] == "Bearer test-bearer"
        state["connections"] += 1
        n = state["connections"]
        if n == 2:
            return JSONResponse({"title": "ConnectionException", "detail": "This stream is currently at the maximum "
                                 "allowed connection limit.", "type": "https://api.twitter.com/2/problems/streaming-"
                                 "connection"}, status_code=429,
                                headers={"x-rate-limit-limit": "50", "x-rate-limit-remaining": "0",
                                         "x-rate-limit-reset": str(int(time.time()) + 2)})

        async def body():
            yield "\r\n"
            if n == 1:
                yield LINES[0] + "\r\n"
                yield "\r\n"
                yield LINES[1] + "\r\n"
                yield '{"data": {"id": "1844000000000000099", "text": \r\n'
                state["visible"] = 4  # posts 3 and 4 happen while disconnected
                yield json.dumps(fixture("twitter", "operational_disconnect.json")) + "\r\n"
                return
            if n == 3:
                yield LINES[3] + "\r\n"  # also found by the backfill: a duplicate
                state["visible"] = 5
                yield LINES[4] + "\r\n"
            while True:
                await asyncio.sleep(0.2)
                yield "\r\n"
        return StreamingResponse(body(), media_type="application/json")

    async def recent(request: Request) -> Response:
        seen.add("/recent", request.query_params, request.headers)
        since = int(request.query_params["since_id"])
        found = [MSG[i] for i in range(1, state["visible"] + 1) if int(MSG[i]["data"]["id"]) > since]
        users = {u["id"]: u for m in found for u in m["includes"]["users"]}
        return JSONResponse({"data": [m["data"] for m in reversed(found)], "includes": {"users": list(users.values())},
                             "meta": {"result_count": len(found)}} if found else {"meta": {"result_count": 0}},
                            headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449",
                                     "x-rate-limit-reset": str(int(time.time()) + 900)})

    return Starlette(routes=[Route("/2/tweets/search/stream/rules", rules, methods=["GET", "POST"]),
                             Route("/2/tweets/search/stream", stream), Route("/2/tweets/search/recent", recent)])


def make(base: str, sink, store) -> TwitterConnector:
    config = TwitterConfig(name="x-test", bearer_token="test-bearer", api_url=base, heartbeat_timeout_seconds=5,
                           rules=[{"value": RULE, "tag": "PakjePost"}], network_backoff_step_seconds=0.05,
                           http_backoff_initial_seconds=0.1, rate_limit_backoff_initial_seconds=0.1,
                           brands=[{"name": "PakjePost", "own_accounts": ["@PakjePost"]}])
    return TwitterConnector(config, sink, store)


def test_x_rules_stream_disconnect_rate_limit_backfill_and_restart():
    state = {"rules": fixture("twitter", "rules_before.json")["data"], "rule_posts": [], "connections": 0,
             "visible": 2}
    seen, sink, store = Recorder(), MemorySink(), MemoryCheckpointStore()

    async def main():
        async with serve(x_api(state, seen)) as base:
            first = make(base, sink, store)
            await run_until(first, lambda: len(sink.mentions) >= 4 and first.stats.own_posts >= 1,
                            what="four posts and the brand's reply")
            state["visible"] = 6
            second = make(base, sink, store)
            await run_until(second, lambda: len(sink.mentions) >= 5, what="the post made during the restart")
            return first.stats

    stats = asyncio.run(main())
    assert sink.ids == [f"twitter:18440000000000000{i:02d}" for i in (1, 2, 3, 4, 6)], "once each, in order"
    m1 = sink.mentions[0]
    assert m1.channel == Channel.own and m1.brand == "PakjePost" and m1.author.handle == "sanne_nl"
    assert m1.url == "https://x.com/sanne_nl/status/1844000000000000001" and m1.author.followers == 310
    assert sink.mentions[1].channel == Channel.third_party and sink.mentions[1].author.followers == 38000
    # rules: the stale rule was deleted, ours added, once (the restart found it in place)
    assert state["rule_posts"] == [{"delete": {"ids": ["1843990000000000099"]}},
                                   {"add": [{"value": RULE, "tag": "PakjePost"}]}]
    assert [(r["value"], r["tag"]) for r in state["rules"]] == [(RULE, "PakjePost")]
    # the operational disconnect: reconnect at once; then 429: wait until x-rate-limit-reset
    assert stats.errors["network"] >= 1 and stats.errors["rate_limited"] == 1
    connects = seen.to("/stream")
    assert connects[1]["at"] - connects[0]["at"] < 1.0, "an established stream that drops reconnects at once"
    assert connects[2]["at"] - connects[1]["at"] >= 1.0 and 1.0 <= stats.rate_limit_waits[0] <= 2.0
    # the gap was filled by recent search since the last post seen
    backfills = seen.to("/recent")
    assert backfills[0]["query"]["since_id"] == "1844000000000000002"
    assert backfills[-1]["query"]["since_id"] == "1844000000000000005"
    assert stats.duplicates >= 1 and stats.own_posts == 1
    assert [d.reason for d in sink.dead_letters] == [DeadLetterReason.malformed_json]
    assert store.load("x-test").cursor["main"] == "1844000000000000006"
