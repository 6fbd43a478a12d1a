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


# ---------------------------------------------------------------- real Mastodon payloads
# tests/fixtures/connectors/mastodon/real/: the streaming and Status examples of the Mastodon
# documentation and responses recorded by Mastodon.py's test suite; see SOURCES.md there.
# Server-sent events go through `event_for` + `handle` (the SSE path), REST statuses through
# `handle(Event(payload=...))` (the catch-up path).
from datetime import datetime, timezone

import pytest

from connectors.runtime.live import Event, PlatformError
from tests.fixtures.connectors.fakes import HERE


def real_sse() -> list[tuple[str, str]]:
    text = (HERE / "mastodon" / "real" / "streaming_docs_events.sse").read_text(encoding="utf-8")
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n", 1)
        events.append((name.removeprefix("event: "), data.removeprefix("data: ")))
    return events


def live(keywords: list[str], base: str = "https://mastodon.social") -> tuple[MastodonConnector, MemorySink]:
    sink = MemorySink()
    config = MastodonConfig(name="masto-real", base_url=base, streams=["public"],
                            brands=[{"name": "Brand", "keywords": keywords}])
    return MastodonConnector(config, sink), sink


def status(name: str) -> dict:
    return fixture("mastodon", f"real/{name}")


def test_real_streaming_events_update_edit_delete_and_others():
    connector, sink = live(["glad", "piano", "edited", "test", "処女"])
    for name, data in real_sse():
        event = connector.event_for("public", name, data)
        if event is not None:
            connector.handle(event)
    ids = [m.id for m in sink.mentions]
    assert ids[0] == "mastodon:https://letsalllovela.in/objects/e9cebb0c-7c75-414f-9608-20b5628e52d7"
    first = sink.mentions[0]
    assert first.text == "@disarray glad i was able to help" and first.author.handle == "freon@letsalllovela.in"
    assert first.created_at == datetime(2022, 8, 30, 23, 5, 46, 839000, tzinfo=timezone.utc)
    assert first.lang_hint is None and first.brand == "Brand" and not first.links
    edit = next(m for m in sink.mentions if m.id.endswith("ruby.social/users/chrismo/statuses/109348684454557541"))
    assert edit.edited_at == datetime(2022, 11, 15, 16, 10, 43, tzinfo=timezone.utc)
    assert edit.links == ["https://cstudios.bandcamp.com/track/celestia-gravity-assist-no-19-var-2"], "no hashtags"
    assert "Here's a solo #piano track of mine called Gravity Assist" in edit.text
    assert edit.url == "https://ruby.social/@chrismo/109348684454557541" and edit.lang_hint == "en"
    assert sum(1 for m in sink.mentions if m.edited_at) == 4  # every status.update, re-published
    # deletes: a status seen on the stream is deleted under its URI and author; an unknown one by id
    deleted = {d.id: d for d in sink.deletions}
    assert deleted["mastodon:https://mastodon.social/users/trwnh/statuses/108914398911648589"].author_key == \
        "mastodon:trwnh@mastodon.social"
    assert "mastodon:mastodon.social/107214471804101576" in deleted
    assert all(d.reason == "author_deleted" for d in sink.deletions) and len(sink.deletions) == 3
    assert not sink.dead_letters


def test_real_delete_maps_the_id_to_the_status_seen():
    connector, sink = live(["test"])
    events = real_sse()
    update = next(d for n, d in events if n == "update" and '"id":"108914398911648589"' in d)
    connector.handle(connector.event_for("public", "update", update))
    connector.handle(connector.event_for("public", "delete", "108914398911648589"))
    [m], [d] = sink.mentions, sink.deletions
    assert d.id == m.id and d.author_key == f"mastodon:{m.author.handle}"


@pytest.mark.parametrize("name", ["mastodonpy_status_private.json", "mastodonpy_status_direct.json"])
def test_real_private_and_direct_statuses_are_ignored(name):
    connector, sink = live(["Toot"], base="http://localhost:3000")
    connector.handle(Event(payload=status(name)))
    assert connector.stats.ignored == {"not_public": 1} and not sink.mentions and not sink.dead_letters


def test_real_unlisted_status_is_published():
    connector, sink = live(["Toot"], base="http://localhost:3000")
    connector.handle(Event(payload=status("mastodonpy_status_unlisted.json")))
    [m] = sink.mentions
    assert m.text == "Toot!" and m.author.handle == "mastodonpy_test@localhost:3000"


def test_real_docs_status_with_card_and_truncated_link():
    connector, sink = live(["inheritance"])
    connector.handle(Event(payload=status("status_docs_example.json")))
    [m] = sink.mentions
    url = "https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"
    assert m.text == f'"I lost my inheritance with one wrong digit on my sort code"\n{url}'
    assert m.links == [url] and m.link_titles == ["‘I lost my £193,000 inheritance – with one wrong digit on my sort code’"]
    assert m.author.handle == "Gargron@mastodon.social" and m.author.followers == 322930
    assert m.url == "https://mastodon.social/@Gargron/103270115826048975" and m.lang_hint == "en"
    assert m.created_at == datetime(2019, 12, 8, 3, 48, 33, 901000, tzinfo=timezone.utc)


def test_real_card_status():
    connector, sink = live(["example"], base="http://localhost:3000")
    connector.handle(Event(payload=status("mastodonpy_status_card.json")))
    [m] = sink.mentions
    assert m.link_titles == ["Example Domain"] and m.links[0].startswith("http://example.org")


def test_real_edited_status_is_an_edit():
    connector, sink = live(["Kate"], base="http://localhost:3000")
    connector.handle(Event(payload=status("mastodonpy_status_edited.json")))
    [m] = sink.mentions
    assert m.text == "the best editor? why, of course it is the KDE Advanced Text Editor, Kate"
    assert m.edited_at == datetime(2026, 8, 1, 13, 54, 0, 695000, tzinfo=timezone.utc)


def test_real_media_descriptions_are_alt_texts():
    connector, sink = live(["LOL", "altered"], base="http://localhost:3000")
    connector.handle(Event(payload=status("mastodonpy_status_media.json")))
    connector.handle(Event(payload=status("mastodonpy_status_media_edited.json")))
    first, edited = sink.mentions
    assert first.text == "LOL check this out" and first.media_alt == ["me when a cat"]
    assert edited.media_alt == ["Updated description"] and edited.edited_at is not None


def test_real_reblog_carries_the_original():
    connector, sink = live(["Toot"], base="http://localhost:3000")
    doc = status("mastodonpy_status_reblog.json")
    connector.handle(Event(payload=doc))
    [m] = sink.mentions
    assert m.id == f"mastodon:{doc['reblog']['uri']}" and m.text == "Toot!"


def test_error_object_in_the_stream_is_a_platform_error():
    connector, _ = live(["x"])
    with pytest.raises(PlatformError):
        connector.event_for("public", "update", '{"error":"Error while connecting to the database"}')
