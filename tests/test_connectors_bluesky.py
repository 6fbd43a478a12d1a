"""Bluesky against a fake Jetstream (WebSocket): resume by cursor after a drop, a 429 on the
handshake, a malformed message, identity events naming authors, and a restart."""
from __future__ import annotations

import asyncio
import contextlib
import json
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve as ws_serve

from connectors.bluesky import BlueskyConfig, BlueskyConnector
from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from schemas import DeadLetterReason
from schemas.mention import Channel
from tests.fixtures.connectors.fakes import fixture, run_until

EVENTS = fixture("bluesky", "jetstream_events.jsonl")
BRAND_DID = "did:plc:pakjepostofficial0000001"


class FakeJetstream:
    """Replays events with time_us >= cursor, like Jetstream; `script` shapes each connection."""

    def __init__(self) -> None:
        self.connections: list[dict] = []
        self.stop_after: dict[int, int] = {1: 5}  # connection -> events sent before dropping it
        self.throttle = {2}
        self.available = 8  # events that have happened so far (the rest come during the restart)
        self.url = ""

    def process_request(self, connection, request):
        query = parse_qs(urlsplit(request.path).query)
        n = len(self.connections) + 1
        self.connections.append({"query": query, "at": asyncio.get_running_loop().time()})
        if n in self.throttle:
            response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "slow down\n")
            response.headers["Retry-After"] = "1"
            return response
        return None

    async def handler(self, ws):
        n = len(self.connections)
        query = self.connections[-1]["query"]
        assert query["wantedCollections"] == ["app.bsky.feed.post"]
        cursor = int(query["cursor"][0]) if "cursor" in query else 0
        todo = [e for e in EVENTS[: self.available] if json.loads(e)["time_us"] >= cursor]
        limit = self.stop_after.get(n)
        for i, event in enumerate(todo):
            if limit is not None and i == limit:
                await ws.send("{this is not json")
                ws.transport.abort()  # a drop, not a close handshake
                return
            await ws.send(event)
        await ws.wait_closed()  # stay connected, quiet, until the client leaves

    @contextlib.asynccontextmanager
    async def run(self):
        async with ws_serve(self.handler, "127.0.0.1", 0, process_request=self.process_request) as server:
            port = server.sockets[0].getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}/subscribe"
            yield self


def make(url: str, sink, store) -> BlueskyConnector:
    config = BlueskyConfig(name="bsky-test", url=url, rewind_seconds=0.0015, backoff_initial_seconds=0.1,
                           brands=[{"name": "PakjePost", "own_accounts": [BRAND_DID]}])
    return BlueskyConnector(config, sink, store)


def test_jetstream_resume_by_cursor_rate_limit_malformed_and_restart():
    fake, sink, store = FakeJetstream(), MemorySink(), MemoryCheckpointStore()
    expected = [json.loads(e) for e in EVENTS]
    posts = {e["commit"]["rkey"]: e for e in expected if e["kind"] == "commit" and e["commit"]["operation"] == "create"
             and e["commit"]["collection"] == "app.bsky.feed.post"}

    async def main():
        async with fake.run():
            first = make(fake.url, sink, store)
            await run_until(first, lambda: len(sink.mentions) >= 4, what="four posts across a drop and a 429")
            fake.available = len(EVENTS)
            second = make(fake.url, sink, store)
            await run_until(second, lambda: len(sink.mentions) >= 6, what="the rest after a restart")
            return first.stats, second.stats

    first, second = asyncio.run(main())
    want = ["0001", "0003", "0004", "0005", "0007", "0008"]  # 0002: no brand; 0006: the brand itself
    assert sink.ids == [f"bluesky:{posts['3l3qo2vuo' + k]['did']}/app.bsky.feed.post/3l3qo2vuo{k}" for k in want]
    m = sink.mentions[0]
    assert m.author.handle == "sanne.bsky.social", "the identity event named the author"
    assert m.url == "https://bsky.app/profile/did:plc:sanneabc/post/3l3qo2vuo0001" and m.lang_hint == "nl"
    assert sink.mentions[1].channel == Channel.own, "a mention facet of the brand's DID is its own channel"
    assert sink.mentions[1].author.handle == "did:plc:emma"  # no identity event: the DID stands in
    # the drop: reconnected with the cursor of the last event handled, minus the rewind
    last_before_drop = expected[4]["time_us"]
    resumed = [c for c in fake.connections[1:] if "cursor" in c["query"]]
    assert int(resumed[0]["query"]["cursor"][0]) == last_before_drop - 1500
    assert first.errors["network"] >= 1 and first.duplicates >= 1
    # the 429 on the handshake was honoured
    assert first.errors["rate_limited"] == 1 and first.rate_limit_waits == [1.0]
    assert fake.connections[2]["at"] - fake.connections[1]["at"] >= 1.0
    assert [d.reason for d in sink.dead_letters] == [DeadLetterReason.malformed_json]
    # the restart resumed from the checkpoint: nothing twice, the brand's own post skipped
    assert len(set(sink.ids)) == len(sink.ids) and second.own_posts == 1
    assert store.load("bsky-test").cursor["main"] == expected[-1]["time_us"]
