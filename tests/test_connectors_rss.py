"""RSS/Atom against a fake feed server: conditional GET, 429 + Retry-After, a broken feed,
a malformed entry, and a restart that resumes without loss or duplicates."""
from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.rss import RssConfig, RssConnector
from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from schemas import DeadLetterReason
from schemas.mention import Channel, Source
from tests.fixtures.connectors.fakes import Recorder, fixture, run_until, serve

LAST_MODIFIED = "Fri, 02 Oct 2026 12:00:00 GMT"


def feed_app(state: dict, seen: Recorder) -> Starlette:
    async def blog(request: Request) -> Response:
        seen.add("/blog.xml", request.query_params, request.headers)
        version = state["blog"]
        etag = f'W/"blog-v{version}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(fixture("rss", f"blog_v{version}.xml"), media_type="application/rss+xml",
                        headers={"ETag": etag})

    async def reviews(request: Request) -> Response:
        seen.add("/reviews.xml", request.query_params, request.headers)
        if state.get("throttle_reviews"):
            state["throttle_reviews"] = False
            return Response("slow down", status_code=429, headers={"Retry-After": "1"})
        if request.headers.get("if-modified-since") == LAST_MODIFIED:
            return Response(status_code=304)
        return Response(fixture("rss", "reviews_atom.xml"), media_type="application/atom+xml",
                        headers={"Last-Modified": LAST_MODIFIED})

    async def broken(request: Request) -> Response:
        seen.add("/broken.xml", request.query_params, request.headers)
        return Response(fixture("rss", "broken.html"), media_type="text/html")

    return Starlette(routes=[Route("/blog.xml", blog), Route("/reviews.xml", reviews), Route("/broken.xml", broken)])


def make(base: str, sink, store) -> RssConnector:
    config = RssConfig(
        name="rss-test", poll_interval_seconds=0.2, backoff_initial_seconds=0.1,
        brands=[{"name": "PakjePost"}, {"name": "Vliegwel"}],
        feeds=[f"{base}/blog.xml", {"url": f"{base}/reviews.xml", "source": "review_site", "brand": "Vliegwel"},
               f"{base}/broken.xml"])
    return RssConnector(config, sink, store)


def test_rss_conditional_get_rate_limit_bad_payloads_and_restart():
    state, seen = {"blog": 1, "throttle_reviews": True}, Recorder()
    store, sink = MemoryCheckpointStore(), MemorySink()

    async def main():
        async with serve(feed_app(state, seen)) as base:
            first = make(base, sink, store)
            await run_until(first, lambda: len(sink.mentions) >= 3 and len(seen.to("/blog.xml")) >= 3
                            and len(seen.to("/reviews.xml")) >= 3 and len(seen.to("/broken.xml")) >= 2,
                            what="three mentions, a 304 and a throttled feed")
            stats = first.stats
            state["blog"] = 2  # the blog publishes a new post while the connector is down
            second = make(base, sink, store)
            await run_until(second, lambda: len(sink.mentions) >= 4 and len(seen.to("/blog.xml")) >= 6,
                            what="the new post after the restart")
            return base, stats, second.stats

    base, first_stats, second_stats = asyncio.run(main())
    ids = sink.ids
    assert sorted(ids) == ["review_site:urn:review:88121", "review_site:urn:review:88122", "rss:pakketblog-1001",
                           "rss:pakketblog-1004"]  # feeds run side by side: order only within a feed
    assert ids.index("review_site:urn:review:88121") < ids.index("review_site:urn:review:88122")
    assert ids[-1] == "rss:pakketblog-1004"
    assert len(ids) == len(set(ids)), "a restart must not publish twice"
    by_id = {m.id: m for m in sink.mentions}
    blog = by_id["rss:pakketblog-1001"]
    assert blog.brand == "PakjePost" and blog.matched_keyword == "pakjepost" and blog.source == Source.rss
    assert blog.text.startswith("PakjePost bezorgt weer op zondag\nVanaf november bezorgt PakjePost")
    assert blog.author.handle == "Sanne de Vries" and blog.lang_hint == "nl" and blog.url.endswith("/zondag")
    review = by_id["review_site:urn:review:88121"]
    assert review.brand == "Vliegwel" and review.channel == Channel.third_party and review.author.handle == "Emma Walker"
    # conditional GET: the second poll sent the ETag and got a 304; the restart sent the saved ETag
    blog_requests = seen.to("/blog.xml")
    assert blog_requests[1]["headers"].get("if-none-match") == 'W/"blog-v1"'
    assert any(r["headers"].get("if-modified-since") == LAST_MODIFIED for r in seen.to("/reviews.xml"))
    # 429 + Retry-After: 1 was honoured
    reviews = seen.to("/reviews.xml")
    assert first_stats.rate_limit_waits and first_stats.rate_limit_waits[0] == 1.0
    assert reviews[1]["at"] - reviews[0]["at"] >= 1.0
    # the entry without text and the broken feed were dead-lettered once each, with reasons
    reasons = sorted(d.reason.value for d in sink.dead_letters)
    assert reasons == [DeadLetterReason.malformed_xml.value, DeadLetterReason.schema_violation.value]
    assert "broken.xml" in next(d.detail for d in sink.dead_letters if d.reason == DeadLetterReason.malformed_xml)
    assert second_stats.duplicates >= 1  # pakketblog-1001 was still in the feed, dropped by id
    assert store.load("rss-test").cursor[f"{base}/blog.xml"]["etag"] == 'W/"blog-v2"'
