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


# ---------------------------------------------------------------- real Jetstream payloads
# tests/fixtures/connectors/bluesky/real/: events recorded from the live network by the
# bluesky-social/jetstream test suite (MIT OR Apache-2.0); see SOURCES.md there. Each frame
# goes through `event_for` + `handle`, the path every WebSocket message takes.
from datetime import datetime, timezone

import pytest

REAL = "real/jetstream_corpus_expected_v1.jsonl"


def real_frames(name: str = REAL) -> list[bytes]:
    return [line.encode() for line in fixture("bluesky", name)]


def frame_with(rkey: str, name: str = REAL) -> bytes:
    return next(f for f in real_frames(name) if f'"rkey":"{rkey}"'.encode() in f)


def live(keywords: list[str], handles: dict | None = None):
    sink = MemorySink()
    config = BlueskyConfig(name="bsky-real", brands=[{"name": "Brand", "keywords": keywords}], handles=handles or {})
    return BlueskyConnector(config, sink), sink


def feed(connector, frames) -> None:
    for raw in frames:
        connector.handle(connector.event_for(raw))


def test_real_link_facet_expands_shortened_text_and_card_title():
    connector, sink = live(["Native Americans"])
    feed(connector, [frame_with("3mptbyoeyc22k")])
    assert connector.stats.published == 0 and connector.stats.unmatched == 1  # the card title is not the text
    connector, sink = live(["youtube"])
    feed(connector, [frame_with("3mptbyoeyc22k")])
    [m] = sink.mentions
    assert m.text == "https://www.youtube.com/watch?v=V5lDo-jw8mA", "the shortened link text is the full URL"
    assert m.links == ["https://www.youtube.com/watch?v=V5lDo-jw8mA"]
    assert m.link_titles == ["What does America's 250th anniversary mean to Native Americans?"]
    assert m.author.handle == "did:plc:dclwtltrt2ggsryagfzk7dp4", "never named: the DID is the last resort"
    assert m.created_at == datetime(2026, 7, 4, 14, 38, 6, 240000, tzinfo=timezone.utc) and m.lang_hint == "en"
    assert m.url == "https://bsky.app/profile/did:plc:dclwtltrt2ggsryagfzk7dp4/post/3mptbyoeyc22k"
    assert m.brand == "Brand" and m.edited_at is None


def test_real_image_post_with_link_facet_and_tags():
    connector, sink = live(["Timmi"])
    feed(connector, [frame_with("3mptbyo7tas2u")])
    [m] = sink.mentions
    full = "https://www.tumblr.com/tempo-tales/765681292369166336/behind-them-timmi-and-wankyu-follow-silently-but?source=share"
    assert m.text.startswith('"Behind them, Timmi and Wanky\'u follow silently but as fast as possible."\n\n' + full)
    assert m.text.endswith("#talesatwonderworld\n#balanwonderworldoc")
    assert m.links == [full] and not m.media_alt and m.lang_hint == "es"  # the image has an empty alt


def test_real_gif_only_reply_uses_the_card_title_not_a_dead_letter():
    connector, sink = live(["Ariana Grande"])
    feed(connector, [frame_with("3mptbyproxc2q")])
    [m] = sink.mentions
    assert m.text == "Ariana Grande Crying: Acheimagra Stan Twitter"
    assert m.link_titles == [m.text] and m.links[0].startswith("https://static.klipy.com/ii/")
    assert m.in_reply_to == "at://did:plc:ippiobxpsddnkzd6ms2dbpcy/app.bsky.feed.post/3mptbvznwf22c"
    assert not sink.dead_letters


def test_real_empty_text_without_alt_or_card_is_ignored():
    doc = json.loads(frame_with("3mptbyproxc2q"))
    del doc["commit"]["record"]["embed"]  # the same real reply without its GIF card
    connector, sink = live(["x"])
    connector.handle(connector.event_for(json.dumps(doc).encode()))
    assert connector.stats.ignored == {"no_text": 1} and not sink.dead_letters and not sink.mentions


def test_real_delete_commit_publishes_a_deletion():
    connector, sink = live(["x"], handles={"did:plc:4smmjsqf6l5jkzczvw6vsrqc": "someone.bsky.social"})
    feed(connector, [frame_with("3mpt73z3ejc2p")])
    [d] = sink.deletions
    assert d.id == "bluesky:did:plc:4smmjsqf6l5jkzczvw6vsrqc/app.bsky.feed.post/3mpt73z3ejc2p"
    assert d.reason == "author_deleted" and d.author_key == "bluesky:someone.bsky.social"
    assert d.deleted_at == datetime.fromtimestamp(1783175888377628 / 1_000_000, timezone.utc)
    assert connector.cursor == {} and connector.stats.deleted == 1


def test_real_update_commit_is_an_edit():
    # no post update was recorded in the sources; the real golden post with operation "update"
    doc = json.loads(frame_with("3mmoojp4cd223", "real/jetstream_subscribe_golden_v1.jsonl"))
    doc["commit"]["operation"] = "update"
    connector, sink = live(["RSV"])
    feed(connector, [frame_with("3mmoojp4cd223", "real/jetstream_subscribe_golden_v1.jsonl"),
                     json.dumps(doc).encode()])
    first, edit = sink.mentions
    assert first.id == edit.id and first.edited_at is None
    assert edit.edited_at == datetime.fromtimestamp(1779719009157119 / 1_000_000, timezone.utc)
    assert edit.text == "Try RSV for a good time !!" and edit.lang_hint == "en"


def test_identity_without_handle_keeps_the_known_handle():
    frames = real_frames()
    identity = next(f for f in frames if b'"kind":"identity"' in f)
    did = json.loads(identity)["did"]
    connector, _ = live(["x"], handles={did: "known.example.com"})
    feed(connector, [identity])
    assert connector.handles[did] == "known.example.com"
    named = json.dumps({"did": did, "time_us": 1, "kind": "identity",
                        "identity": {"did": did, "handle": "New.Example.com", "seq": 1, "time": "2026-07-04T14:38:07Z"}})
    feed(connector, [named.encode()])
    assert connector.handles[did] == "new.example.com"


def test_mention_facets_name_authors():
    connector, _ = live(["parcel"])
    doc = json.loads(next(line for line in EVENTS if '"3l3qo2vuo0003"' in line))
    doc["commit"]["record"]["facets"][0]["index"]["byteEnd"] = 13  # "@pakjepost.nl"
    feed(connector, [json.dumps(doc).encode()])
    assert connector.handles["did:plc:pakjepostofficial0000001"] == "pakjepost.nl"


@pytest.mark.parametrize("name", ["real/jetstream_corpus_expected_v1.jsonl", "real/jetstream_subscribe_golden_v1.jsonl"])
def test_every_real_frame_is_handled_without_dead_letters(name):
    connector, sink = live(["the", "a", "de"])
    frames = real_frames(name)
    feed(connector, frames)
    posts = [json.loads(f) for f in frames if b'"collection":"app.bsky.feed.post"' in f]
    s = connector.stats
    assert not sink.dead_letters
    assert s.published + s.unmatched + sum(s.ignored.values()) + s.deleted == len(posts)


def test_jetstream_error_frame_is_a_platform_error():
    from connectors.runtime.live import PlatformError
    connector, _ = live(["x"])
    with pytest.raises(PlatformError):
        connector.event_for(b'{"kind":"error","error":"ConsumerTooSlow","message":"slow"}')
