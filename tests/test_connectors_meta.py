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


# ------------------------------------------------------------ real deliveries (tests/fixtures/connectors/meta/real)
from datetime import UTC, datetime



def real(name: str):
    return fixture("meta", f"real/{name}")


def graph_any() -> Starlette:
    """A Graph API that knows every object: a message, an author, an Instagram username."""
    async def obj(request: Request) -> Response:
        fields = request.query_params.get("fields", "")
        oid = request.path_params["oid"]
        if fields.startswith("mentioned_comment"):
            return JSONResponse({"mentioned_comment": {"id": "17894227972186120", "text": "@brand hello",
                                                       "username": "ig_user", "timestamp": "2018-05-23T18:01:01+0000"}})
        if "username" in fields:
            return JSONResponse({"id": oid, "text": "This is an example.", "username": "ig_commenter",
                                 "timestamp": "2018-05-23T18:01:00+0000"})
        return JSONResponse({"id": oid, "message": f"graph message of {oid}", "from": {"id": "777", "name": "Graph User"}})
    return Starlette(routes=[Route("/v21.0/{oid}", obj)])


def post_all(deliveries, brands, *, token: bool = True):
    sink = MemorySink()
    out: dict = {}

    async def main():
        async with serve(graph_any()) as base, httpx.AsyncClient(timeout=30) as http:
            config = MetaConfig(name="meta-real", port=0, app_secret=SECRET, verify_token="t",
                                access_token="tok" if token else None, graph_url=f"{base}/v21.0",
                                commit_every=1, brands=brands)
            connector = MetaWebhookConnector(config, sink, MemoryCheckpointStore())
            stop = asyncio.Event()
            task = asyncio.create_task(connector.run(stop))
            await asyncio.wait_for(connector.ready.wait(), 30)
            url = f"http://127.0.0.1:{connector.bound_port}/meta/webhook"
            for doc in deliveries:
                body = json.dumps(doc).encode()
                r = await http.post(url, content=body, headers=signed(body))
                assert r.status_code == 200 and r.text == "EVENT_RECEIVED"
            stop.set()
            out["stats"] = await task
    asyncio.run(main())
    return sink, out["stats"]


def ts(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_real_bottender_feed_changes():
    sink, stats = post_all(real("bottender_feed.json"),
                           [{"name": "Bottender", "own_accounts": ["137542570280222", "137542570280111"]}])
    assert sink.dead_letters == []
    by_id = {m.id: m for m in sink.mentions}
    assert list(by_id) == ["facebook:137542570280222_139610053406744", "facebook:137542570280222_139560936744456",
                           "facebook:139560936744456_139620233405726", "facebook:139560936744456_139597043408045",
                           "facebook:139560936755999_140077616693321"]
    status = by_id["facebook:137542570280222_139610053406744"]
    assert status.text == "test" and status.author.handle == "139560936744123" and status.author.display_name == "user"
    assert status.created_at == ts(1511949030) and status.edited_at is None and status.brand == "Bottender"
    assert status.channel == Channel.own and status.url == "https://www.facebook.com/137542570280222_139610053406744"
    edited = by_id["facebook:137542570280222_139560936744456"]
    assert edited.text == "1234" and edited.edited_at == ts(1511951100) and edited.created_at == ts(1511927135)
    comment = by_id["facebook:139560936744456_139620233405726"]
    assert comment.text == "Good" and comment.in_reply_to == "139560936744456_139562213411528"
    assert by_id["facebook:139560936744456_139597043408045"].edited_at == ts(1511951100)
    video = by_id["facebook:139560936755999_140077616693321"]
    assert video.text == "100" and video.url == "https://www.facebook.com/xxx/posts/1111"
    assert video.author.display_name == "Hsuan-Yih Shawn Chu"
    assert [(d.id, d.reason) for d in sink.deletions] == [
        ("facebook:137542570280222_139610053406744", "author_deleted"),
        ("facebook:139560936744456_139597043408045", "author_deleted")]
    assert sink.deletions[0].deleted_at == ts(1511949068)
    assert stats.ignored == {"reaction": 6}
    assert stats.duplicates == 1  # the page's own reply reuses the video comment's id in the fixture


def test_real_messenger_delivery_is_ignored():
    sink, stats = post_all([real("bottender_messaging.json")], [{"name": "Bottender"}])
    assert sink.mentions == [] and sink.dead_letters == [] and stats.ignored == {"messenger": 1}


def test_real_feed_with_sender_id_instead_of_from():
    sink, stats = post_all(real("tcclighting_feed_sender.json"), [{"name": "CTCC", "keywords": ["test"]}])
    assert sink.dead_letters == [] and stats.ignored == {"reaction": 4}
    (comment,) = sink.mentions
    assert comment.id == "facebook:1163393020407286_1164864096926845" and comment.text == "test"
    assert comment.author.handle == "1142469655832956" and comment.author.display_name == "CTCC"
    assert comment.created_at == ts(1478439630) and comment.brand == "CTCC"
    assert comment.url == "https://www.facebook.com/1142469655832956_1163393020407286"


def test_real_mention_without_sender():
    brands = [{"name": "FactCheck", "keywords": ["factcheck-fb"]}]
    sink, _ = post_all([real("mention_comment_no_sender.json")], brands)  # author from the Graph API
    (m,) = sink.mentions
    assert sink.dead_letters == [] and m.text == "FactCheck-FB video apa" and m.author.handle == "777"
    assert m.id == "facebook:122197857164920798_2719805541795582" and m.brand == "FactCheck"
    assert m.url == "https://www.facebook.com/669976192871967_122197857164920798"
    assert m.created_at_note  # the quoted delivery carried no time
    sink, stats = post_all([real("mention_comment_no_sender.json")], brands, token=False)
    assert sink.mentions == [] and sink.dead_letters == [] and stats.ignored == {"no_author": 1}


def test_real_page_samples_mention_ratings_no_value():
    sink, stats = post_all(real("meta_docs_page_samples.json"), [{"name": "Example", "own_accounts": ["0"]}])
    assert sink.dead_letters == []
    mention, review = sink.mentions
    assert mention.author.handle == "44444444" and mention.author.display_name == "Example Name"
    assert mention.text == "graph message of 44444444_444444444" and mention.created_at == ts(1520383571)
    assert review.text == "Great service, parcel arrived next day" and review.source == Source.facebook
    assert review.channel == Channel.own and review.author.display_name == "Example Name"
    assert stats.ignored == {"rating_without_text": 1, "no_value": 1}


def test_real_instagram_pre_2021_shape():
    sink, _ = post_all(real("meta_docs_instagram.json"), [{"name": "Brand", "own_accounts": ["17841405309211844"]}])
    assert sink.dead_letters == []
    comment, mention = sink.mentions
    assert comment.id == "instagram:17865799348089039" and comment.text == "This is an example."
    assert comment.author.handle == "ig_commenter" and comment.created_at.year == 2018
    assert mention.id == "instagram:17894227972186120" and mention.author.handle == "ig_user"


def test_hide_verb_and_one_bad_change_do_not_drop_the_others():
    """Derived from the bottender comment payloads: a `hide` and a change without a field sit in one delivery."""
    feed = real("bottender_feed.json")[0]
    changes = feed["entry"][0]["changes"]
    hidden = {"field": "feed", "value": {**changes[3]["value"], "verb": "hide"}}
    doc = {"object": "page", "entry": [{"id": "137542570280222", "time": 1511951100,
                                        "changes": [{"value": {}}, hidden, changes[0]]}]}
    sink, stats = post_all([doc], [{"name": "Bottender", "own_accounts": ["137542570280222"]}])
    assert [d.reason for d in sink.dead_letters] == [DeadLetterReason.schema_violation]
    assert [(d.id, d.reason) for d in sink.deletions] == [("facebook:139560936744456_139620233405726", "hidden")]
    assert [m.text for m in sink.mentions] == ["test"]
