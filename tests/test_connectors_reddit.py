"""Reddit against a fake API: OAuth client credentials (and a refresh after 401), `after`
paging, 429 + Retry-After, X-Ratelimit quota headers, a malformed child, a restart."""
from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.reddit import RedditConfig, RedditConnector
from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from schemas import DeadLetterReason
from schemas.mention import Channel
from tests.fixtures.connectors.fakes import Recorder, fixture, run_until, serve

PAGES = fixture("reddit", "new_page_later.json")["data"]["children"] + fixture("reddit", "new_page2.json")["data"][
    "children"]
BY_NAME = {c["data"]["name"]: c for c in PAGES}  # t3_1g0001..8; 7 is malformed
NEW_9 = {"kind": "t3", "data": {**BY_NAME["t3_1g0008"]["data"], "name": "t3_1g0009", "id": "1g0009",
                                "title": "PakjePost pakketpunt dicht", "created_utc": 1790000090.0,
                                "permalink": "/r/thenetherlands/comments/1g0009/x/"}}


def reddit(state: dict, seen: Recorder) -> Starlette:
    async def token(request: Request) -> Response:
        seen.add("/api/v1/access_token", request.query_params, request.headers)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        user, _, password = base64.b64decode(request.headers["authorization"].split()[1]).decode().partition(":")
        if (user, password, form.get("grant_type")) != ("app-id", "app-secret", "client_credentials"):
            return JSONResponse({"error": "invalid_grant"}, status_code=401)
        state["token"] += 1
        return JSONResponse({**fixture("reddit", "access_token.json"), "access_token": f"tok-{state['token']}"})

    async def listing(request: Request) -> Response:
        seen.add(request.url.path, request.query_params, request.headers)
        if request.headers.get("authorization") != f"bearer tok-{state['token']}" or state.pop("expire", False):
            return JSONResponse({"message": "Unauthorized", "error": 401}, status_code=401)
        if state.pop("throttle", False):
            return Response("Too Many Requests", status_code=429, headers={"Retry-After": "1"})
        visible = [BY_NAME[n] for n in state["visible"]]
        after, limit = request.query_params.get("after"), int(request.query_params["limit"])
        start = next(i + 1 for i, c in enumerate(visible) if c["data"]["name"] == after) if after else 0
        page = visible[start:start + limit]
        more = start + limit < len(visible)
        headers = {"X-Ratelimit-Used": "1", "X-Ratelimit-Remaining": "0.0" if state.pop("spent", False) else "99.0",
                   "X-Ratelimit-Reset": "1"}
        return JSONResponse({"kind": "Listing", "data": {"after": page[-1]["data"]["name"] if more else None,
                                                         "dist": len(page), "children": page, "before": None}},
                            headers=headers)

    return Starlette(routes=[Route("/api/v1/access_token", token, methods=["POST"]),
                             Route("/r/{sub}/new", listing)])


def make(base: str, sink, store) -> RedditConnector:
    config = RedditConfig(name="reddit-test", client_id="app-id", client_secret="app-secret",
                          listings=["r/thenetherlands"], auth_url=f"{base}/api/v1/access_token", api_url=base,
                          page_size=2, poll_interval_seconds=0.2, backoff_initial_seconds=0.1,
                          brands=[{"name": "PakjePost", "own_accounts": ["r/PakjePostOfficial"]}])
    return RedditConnector(config, sink, store)


def test_reddit_oauth_after_paging_rate_limits_malformed_and_restart():
    state = {"token": 0, "visible": ["t3_1g0005", "t3_1g0004", "t3_1g0003"], "spent": True}
    seen, sink, store = Recorder(), MemorySink(), MemoryCheckpointStore()
    BY_NAME["t3_1g0009"] = NEW_9

    async def main():
        async with serve(reddit(state, seen)) as base:
            first = make(base, sink, store)
            await run_until(first, lambda: len(sink.mentions) >= 2, what="the newest page")
            # new posts arrive; the token expires; the next listing call is throttled
            state.update(visible=["t3_1g0008", "t3_1g0007", "t3_1g0006", "t3_1g0005", "t3_1g0004", "t3_1g0003"],
                         expire=True, throttle=True)
            await run_until(first, lambda: len(sink.mentions) >= 4, what="two new posts across three pages")
            state["visible"] = ["t3_1g0009", *state["visible"]]
            second = make(base, sink, store)
            await run_until(second, lambda: len(sink.mentions) >= 5, what="the post made during the restart")
            return first.stats

    stats = asyncio.run(main())
    assert sink.ids == ["reddit:t3_1g0004", "reddit:t3_1g0005", "reddit:t3_1g0006", "reddit:t3_1g0008",
                        "reddit:t3_1g0009"], "oldest first per poll, nothing twice, nothing missing"
    m = sink.mentions[0]
    assert m.text == "PakjePost tracking klopt niet\n\nStaat als bezorgd, niks gekregen." and m.author.handle == "u_eva"
    assert m.url == "https://www.reddit.com/r/thenetherlands/comments/1g0004/x/"
    assert m.channel == Channel.third_party and m.created_at.timestamp() == 1790000040.0
    listing_calls = seen.to("/r/thenetherlands/new")
    assert [c["query"].get("after") for c in listing_calls if c["query"].get("after")][:2] == ["t3_1g0007",
                                                                                              "t3_1g0005"]
    assert all(c["query"]["raw_json"] == "1" for c in listing_calls)
    # a 401 fetched a new token once; a 429 waited its Retry-After; a spent quota waited for its reset
    assert state["token"] == 3, "first token, one refresh after the 401, one for the restarted connector"
    assert stats.errors["rate_limited"] == 1 and 1.0 in stats.rate_limit_waits  # the 429's Retry-After
    assert len(stats.rate_limit_waits) == 2  # ... and the wait for the spent quota's reset
    assert listing_calls[1]["at"] - listing_calls[0]["at"] >= 0.9, "the spent quota held the next request"
    assert [d.reason for d in sink.dead_letters] == [DeadLetterReason.schema_violation]
    assert "t3_1g0007" in sink.dead_letters[0].original().decode()
    assert store.load("reddit-test").cursor["r/thenetherlands"]["newest_utc"] == 1790000090.0
