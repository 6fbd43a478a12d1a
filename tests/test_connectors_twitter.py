"""X API v2 against a fake: rules sync, the filtered stream with keep-alives, an operational
disconnect, a 429 with x-rate-limit-reset, a malformed line, recent-search backfill, restart."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.live import PlatformError
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
    assert stats.errors["platform"] == 1 and stats.errors["rate_limited"] == 1
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


# ---------------------------------------------------------------- real payloads (tests/fixtures/connectors/twitter/real)
REAL = "twitter/real"


def real(name: str):
    return fixture(REAL, name)


def real_connector(rules=None, brands=None, sink=None) -> TwitterConnector:
    config = TwitterConfig(name="x-real", bearer_token="test-bearer", api_url="http://127.0.0.1:9",
                           rules=rules or [{"value": "cat has:images", "tag": "cats with images"}],
                           brands=brands or [{"name": "cats with images"}])
    return TwitterConnector(config, sink or MemorySink())


def test_real_stream_line_from_the_x_docs_quickstart():
    """A filtered-stream line with matching_rules and includes.users: the rule's tag is the brand."""
    sink = MemorySink()
    x = real_connector(sink=sink)
    [m] = x.process(real("docs_stream_quickstart.json"))
    assert m.id == "twitter:1234567890" and m.text == "Look at this cute cat! 🐱"
    assert m.author.handle == "catperson" and m.brand == "cats with images"
    assert m.created_at.isoformat() == "2024-01-15T10:35:00+00:00" and m.edited_at is None
    assert m.url == "https://x.com/catperson/status/1234567890" and not sink.dead_letters


def test_real_partial_errors_still_publish_the_data():
    """X's documented partial-error object (a referenced post is gone) next to a stream post: published."""
    line = {**real("docs_stream_quickstart.json"), "errors": real("docs_partial_errors.json")["errors"]}
    sink = MemorySink()
    [m] = real_connector(sink=sink).process(line)
    assert m.id == "twitter:1234567890" and not sink.dead_letters


def test_real_edit_example_without_author_is_dead_lettered_with_the_reason():
    """The X docs' edit example (edit_history_tweet_ids + edit_controls) carries no author_id (the docs
    request only edit_controls); the connector always asks for author_id, so it is dead-lettered, clearly."""
    sink = MemorySink()
    assert real_connector(sink=sink).process(real("docs_edit_posts.json")) == []
    [letter] = sink.dead_letters
    assert letter.reason == DeadLetterReason.schema_violation and "author_id" in letter.detail


def test_edit_is_published_under_the_original_id():
    """Edit semantics on the docs' edit example, given the author fields the connector requests."""
    doc = real("docs_edit_posts.json")
    doc["data"].update(author_id="9876543210", created_at="2024-01-15T12:05:00.000Z", lang="en")
    doc["includes"] = real("docs_stream_quickstart.json")["includes"]
    doc["matching_rules"] = real("docs_stream_quickstart.json")["matching_rules"]
    sink = MemorySink()
    x = real_connector(sink=sink)
    x.process(real("docs_stream_quickstart.json"))
    [m] = x.process(doc)
    assert m.id == "twitter:1234567890", "the mention keeps the original post's id"
    assert m.text == "Updated text (edited)" and m.edited_at.isoformat() == "2024-01-15T12:05:00+00:00"
    assert m.url.endswith("/status/1234567891") and sink.ids == ["twitter:1234567890", "twitter:1234567890"]


def test_long_post_uses_note_tweet_text_and_entities():
    """No real long-post payload was found to store; the shape follows X's data dictionary (note_tweet)."""
    doc = real("docs_stream_quickstart.json")
    full = "Look at this cute cat! 🐱 " + "More about cats. " * 30 + "https://t.co/abc"
    doc["data"].update(text=full[:270] + "…", note_tweet={"text": full, "entities": {"urls": [
        {"start": len(full) - 16, "end": len(full), "url": "https://t.co/abc",
         "expanded_url": "https://cats.example/adopt", "title": "Adopt a cat"}]}},
        attachments={"media_keys": ["3_1"]})
    doc["includes"]["media"] = [{"media_key": "3_1", "type": "photo", "alt_text": "A grey cat on a sofa"}]
    [m] = real_connector().process(doc)
    assert m.text == full and m.links == ["https://cats.example/adopt"] and m.link_titles == ["Adopt a cat"]
    assert m.media_alt == ["A grey cat on a sofa"]


def test_real_search_results_take_the_brand_from_the_rule_that_found_them():
    """python-twitter's recorded recent-search response (no matching_rules) through the same parse as
    the stream: every post gets the tag of the rule whose query produced it; URLs are expanded."""
    sink = MemorySink()
    x = real_connector(rules=[{"value": "snowman", "tag": "Snowman"}], brands=[{"name": "Snowman"}], sink=sink)
    rule = x.config.rules[0]
    for item in x.search_results(real("sns_python_twitter_search_recent.json"), rule):
        x.process(item)
    assert not sink.dead_letters and len(sink.mentions) == 4
    assert {m.brand for m in sink.mentions} == {"Snowman"}
    first = sink.mentions[0]
    assert first.id == "twitter:1276035977375477760" and first.author.handle == "happycamper"
    assert first.lang_hint == "en" and first.created_at.isoformat() == "2020-06-25T06:14:19+00:00"
    assert first.links == ["https://twitter.com/happycamper/status/1276035977375477760/photo/1"]
    assert first.text.startswith("@snowman Ooo, thanks error message")
    assert [m.lang_hint for m in sink.mentions][2] == "und"


def test_real_search_link_titles():
    sink = MemorySink()
    x = real_connector(rules=[{"value": "nyc", "tag": "NYC"}], brands=[{"name": "NYC"}], sink=sink)
    for item in x.search_results(real("sns_python_twitter_search_nyc.json"), x.config.rules[0]):
        x.process(item)
    assert len(sink.mentions) == 10 and {m.brand for m in sink.mentions} == {"NYC"}
    titled = [m for m in sink.mentions if m.link_titles]
    assert [(m.id, m.links, m.author.handle) for m in titled] == [(
        "twitter:1275840876997050369",
        ["https://www.zerohedge.com/political/de-blasio-considers-laying-22000-nyc-employees"], "110578919")]
    assert titled[0].link_titles[0].startswith("De Blasio Considers Laying Off 22,000 NYC Employees")
    assert sorted({m.lang_hint for m in sink.mentions}) == ["de", "en"]


def test_real_tweepy_search_without_requested_fields_is_dead_lettered():
    """tweepy's cassette asked for no fields: no author_id, no created_at; not what this connector asks
    for, so each post is dead-lettered with the reason (none published with an invented author)."""
    sink = MemorySink()
    x = real_connector(rules=[{"value": "Tweepy", "tag": "Tweepy"}], brands=[{"name": "Tweepy"}], sink=sink)
    for item in x.search_results(real("tweepy_search_recent.json"), x.config.rules[0]):
        x.process(item)
    assert sink.mentions == [] and len(sink.dead_letters) == 10
    assert all("author_id" in d.detail for d in sink.dead_letters)


@pytest.mark.parametrize("name, title, retry", [
    ("docs_operational_disconnect.json", "operational-disconnect", 0.0),
    ("docs_too_many_connections.json", "ConnectionException", 60.0),
    ("docs_rate_limit.json", "Rate limit exceeded", 60.0),
    ("docs_unauthorized.json", "Unauthorized", None),
])
def test_real_stream_errors_end_the_stream_with_platform_error(name, title, retry):
    """Each documented error object, sent as a stream line by a fake X: PlatformError, no dead letter."""
    line = json.dumps(real(name))

    async def stream(request: Request) -> Response:
        async def body():
            yield "\r\n"
            yield json.dumps(real("docs_stream_quickstart.json")) + "\r\n"
            yield line + "\r\n"
        return StreamingResponse(body(), media_type="application/json")

    async def main():
        async with serve(Starlette(routes=[Route("/2/tweets/search/stream", stream)])) as base:
            sink = MemorySink()
            config = TwitterConfig(name="x-err", bearer_token="test-bearer", api_url=base,
                                   rules=[{"value": "cat has:images", "tag": "cats with images"}],
                                   brands=[{"name": "cats with images"}])
            x = TwitterConnector(config, sink)
            x.rules_synced = True
            x.rate_backoff.jitter = False
            events = []
            with pytest.raises(PlatformError) as caught:
                async for event in x.stream("main"):
                    events.append(event)
                    x.handle(event)
            await x.aclose()
            return caught.value, sink

    error, sink = asyncio.run(main())
    assert error.title == title and error.retry_after == retry
    assert sink.ids == ["twitter:1234567890"] and not sink.dead_letters


def test_usage_cap_waits_the_longest_rate_limit_step():
    x = real_connector()
    error = x.stream_error({"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
                            "type": "https://api.twitter.com/2/problems/usage-capped"})
    assert error is not None and error.retry_after == x.config.rate_limit_backoff_max_seconds
    assert x.stream_error({"data": {}}) is None and x.stream_error({"foo": 1}) is None


def test_backfill_runs_one_query_per_rule_and_keeps_its_tag():
    """Recent search per rule against a fake serving the recorded python-twitter responses."""
    seen = Recorder()

    async def recent(request: Request) -> Response:
        seen.add("/recent", request.query_params, request.headers)
        q = request.query_params["query"]
        return JSONResponse(real("sns_python_twitter_search_recent.json" if q == "snowman"
                                 else "sns_python_twitter_search_nyc.json") | {"meta": {"result_count": 1}})

    async def main():
        async with serve(Starlette(routes=[Route("/2/tweets/search/recent", recent)])) as base:
            sink = MemorySink()
            config = TwitterConfig(name="x-bf", bearer_token="test-bearer", api_url=base,
                                   rules=[{"value": "snowman", "tag": "Snowman"}, {"value": "nyc", "tag": "NYC"}],
                                   brands=[{"name": "Snowman"}, {"name": "NYC"}])
            x = TwitterConnector(config, sink)
            x.cursor["main"] = "1275000000000000000"
            async for event in x.backfill("main"):
                x.handle(event)
                if event.cursor is not None:
                    x.cursor["main"] = event.cursor
            await x.aclose()
            return x, sink

    x, sink = asyncio.run(main())
    assert [r["query"]["query"] for r in seen.to("/recent")] == ["snowman", "nyc"]
    assert "note_tweet" in seen.to("/recent")[0]["query"]["tweet.fields"]
    assert "attachments.media_keys" in seen.to("/recent")[0]["query"]["expansions"]
    brands = {m.id: m.brand for m in sink.mentions}
    assert len(brands) == 14 and brands["twitter:1276035977375477760"] == "Snowman"
    assert brands["twitter:1275840876997050369"] == "NYC"
    assert sink.ids == sorted(sink.ids, key=lambda i: (len(i), i)), "oldest first"
    assert x.cursor["main"] == "1276035977375477760"
