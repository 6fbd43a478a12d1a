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


# ---------------------------------------------------------------- real Reddit payloads
# tests/fixtures/connectors/reddit/real/: API responses recorded by PRAW's integration tests
# (praw-dev/praw tests/integration/cassettes, BSD-2-Clause); see SOURCES.md there. Each listing
# goes through the connector's own path: `listing_children` (what `stream` does with a page),
# then one `handle(Event(payload=child))` per child, oldest first.
from datetime import UTC, datetime

from connectors.reddit import listing_children
from connectors.runtime.live import Event


def real(name: str):
    return fixture("reddit", f"real/{name}")


def live(keywords: list[str]) -> tuple[RedditConnector, MemorySink]:
    sink = MemorySink()
    config = RedditConfig(name="reddit-real", client_id="app-id", client_secret="app-secret", listings=["r/all"],
                          brands=[{"name": "Brand", "keywords": keywords}])
    return RedditConnector(config, sink), sink


def feed(connector: RedditConnector, doc) -> None:
    children = listing_children(doc)
    assert children is not None, "a real Listing must be read as one"
    for child in reversed(children):
        connector.handle(Event(payload=child))


def by_id(sink: MemorySink) -> dict:
    return {m.id: m for m in sink.mentions}


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_real_search_listing_long_edited_self_post_is_truncated_not_dead_lettered():
    connector, sink = live(["praw", "reddit"])
    feed(connector, real("praw_search_long_edited_selfposts.json"))
    assert not sink.dead_letters
    mentions = by_id(sink)
    long = mentions["reddit:t3_4at068"]  # a 10,490-character self-post, edited 280 s after posting
    assert long.truncated and len(long.text) <= 10_000 and long.text.endswith(" …")
    assert long.text.startswith("たびたび話題になるサイドバーの閲覧中ユーザ数について（また）調べた\n\n## tl;dr")
    assert long.author.handle == "nmtake" and long.created_at == utc(1458221634.0)
    assert long.edited_at == utc(1458221914.0)
    assert long.url == ("https://www.reddit.com/r/p18s/comments/4at068/"
                        "たびたび話題になるサイドバーの閲覧中ユーザ数についてまた調べた/"), "permalink without ?ref=search_posts"
    assert long.lang_hint is None and long.brand == "Brand" and long.matched_keyword == "reddit"
    solved = mentions["reddit:t3_3gpbiu"]
    assert solved.text.startswith("[PRAW][OAuth2Util] Problem using get_banned() : raise Forbidden(_raw=response)\n\n# solved")
    assert solved.edited_at == utc(1439447718.0) and solved.author.handle == "dClauzel"
    assert mentions["reddit:t3_3x4kt2"].edited_at is None  # "edited": false
    assert len(sink.mentions) == 6
    # the same page read again (the newest item is re-read at every poll): no edit republished
    feed(connector, real("praw_search_long_edited_selfposts.json"))
    assert len(sink.mentions) == 6 and connector.stats.duplicates == 6


def test_real_new_listing_self_posts_with_title_only():
    connector, sink = live(["parents", "doctor"])
    feed(connector, real("praw_askreddit_new.json"))
    assert sink.ids == ["reddit:t3_48fbig", "reddit:t3_48fbm9"], "oldest first"
    m = by_id(sink)["reddit:t3_48fbm9"]
    assert m.text == "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
    assert m.author.handle == "RedHeadQc" and m.created_at == utc(1456821458.0) and m.lang_hint is None
    assert m.url == "https://www.reddit.com/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/"
    assert m.brand == "Brand" and m.matched_keyword == "parents" and not m.links and m.edited_at is None
    assert connector.stats.unmatched == 3


def test_real_comments_listing_without_permalink_gets_a_built_url():
    connector, sink = live(["trudeau", "creepypms"])
    feed(connector, real("praw_askreddit_comments.json"))
    assert sink.ids == ["reddit:t1_d4y8bd1", "reddit:t1_d4y8bdf"]
    m = by_id(sink)["reddit:t1_d4y8bdf"]
    assert m.text == "Trudeau has made us look like a bunch of sissy's"
    assert m.author.handle == "CHOCOLATEJ3SU5" and m.created_at == utc(1467590690.0) and m.lang_hint is None
    assert m.url == "https://www.reddit.com/r/AskReddit/comments/4r4ijc/_/d4y8bdf/"
    assert m.in_reply_to == "t3_4r4ijc" and m.brand == "Brand"
    assert by_id(sink)["reddit:t1_d4y8bd1"].url == "https://www.reddit.com/r/AskReddit/comments/4r3ujz/_/d4y8bd1/"


def test_real_old_comment_without_permalink():
    connector, sink = live(["master branch"])
    feed(connector, real("praw_info_old_comment_no_permalink.json"))
    (m,) = sink.mentions
    assert m.id == "reddit:t1_cklhv0f" and m.author.handle == "bboe" and m.created_at == utc(1411010034.0)
    assert m.text.startswith("Yes it does. That fix is also in the master branch")
    assert m.url == "https://www.reddit.com/r/redditdev/comments/2gmzqe/_/cklhv0f/"
    assert m.brand == "Brand" and m.matched_keyword == "master branch" and m.lang_hint is None


def test_real_comment_edit_then_author_delete():
    connector, sink = live(["new text"])
    # the editusertext response: the edited comment (`edited` is a timestamp)
    (edited,) = real("praw_comment_edited.json")["json"]["data"]["things"]
    connector.handle(Event(payload=edited))
    (m,) = sink.mentions
    assert m.id == "reddit:t1_d1616q2" and m.text == "New text" and m.author.handle == "<USERNAME>"
    assert m.edited_at == utc(1458444463.0) and m.created_at == utc(1458421476.0)
    assert m.url == "https://www.reddit.com/r/%3CTEST_SUBREDDIT%3E/comments/4b1tfm/_/d1616q2/"
    # then /api/info shows it deleted by its author: body and author "[deleted]"
    feed(connector, real("praw_info_comment_deleted.json"))
    (gone,) = sink.deletions
    assert gone.id == "reddit:t1_d1616q2" and gone.reason == "author_deleted" and gone.author_key is None
    assert len(sink.mentions) == 1, "a placeholder is never a mention"
    feed(connector, real("praw_info_comment_deleted.json"))
    assert len(sink.deletions) == 1 and connector.stats.ignored["already_deleted"] == 1


def test_real_deleted_placeholder_never_seen_is_ignored():
    connector, sink = live(["deleted"])
    feed(connector, real("praw_info_comment_deleted.json"))
    assert not sink.mentions and not sink.deletions and not sink.dead_letters
    assert connector.stats.ignored["deleted_placeholder"] == 1


def test_real_submission_edit_then_delete_keeps_the_siblings():
    connector, sink = live(["test"])
    (edited,) = real("praw_submission_edited.json")["json"]["data"]["things"]
    connector.handle(Event(payload=edited))
    (post,) = sink.mentions
    assert post.id == "reddit:t3_4b1tfm" and post.text == "A Test from PRAWCORE.\n\nNew text"
    assert post.edited_at == utc(1458445019.0) and post.created_at == utc(1458362059.0)
    assert post.url == "https://www.reddit.com/r/<TEST_SUBREDDIT>/comments/4b1tfm/a_test_from_prawcore/"
    # /comments/4b1tfm after the delete: [post listing, comment listing]; the post and one comment
    # are "[deleted]" placeholders, two replies are alive
    feed(connector, real("praw_submission_deleted_with_comments.json"))
    assert [d.id for d in sink.deletions] == ["reddit:t3_4b1tfm"] and sink.deletions[0].reason == "author_deleted"
    assert connector.stats.ignored["deleted_placeholder"] == 1  # t1_d1616q2: never published here
    assert sorted(m.id for m in sink.mentions[1:]) == ["reddit:t1_d1628v0", "reddit:t1_d162ara"]
    reply = by_id(sink)["reddit:t1_d1628v0"]
    assert reply.text == "Test reply" and reply.in_reply_to == "t3_4b1tfm" and reply.created_at == utc(1458423467.0)


def test_real_info_listing_mixed_kinds_removed_and_link_posts():
    connector, sink = live(["trump", "cuomo", "supreme court", "chocolate cheese"])
    connector.seen.add("t3_5dec21")  # published before a moderator removed it
    feed(connector, real("praw_info_mixed_removed.json"))
    assert not sink.dead_letters
    assert connector.stats.ignored == {"not_a_post": 4, "deleted_placeholder": 2}  # 4 subreddits; t3_5dec01, t1_d7ltv31
    (removed,) = sink.deletions
    assert removed.id == "reddit:t3_5dec21" and removed.reason == "removed" and removed.author_key is not None
    assert sorted(sink.ids) == ["reddit:t1_d7ltv00", "reddit:t3_5dec02", "reddit:t3_5dec03"]
    link = by_id(sink)["reddit:t3_5dec02"]
    assert link.text.startswith("TIL that the Japanese-American internment was ruled constitutional")
    assert link.links == ["https://en.wikipedia.org/wiki/Korematsu_v._United_States"]
    assert link.url == "https://www.reddit.com/r/todayilearned/comments/5dec02/til_that_the_japaneseamerican_internment_was/"
    assert link.author.handle == "metalclassicrock123" and link.created_at == utc(1479363165.0)
    assert link.matched_keyword == "supreme court" and link.lang_hint is None
    comment = by_id(sink)["reddit:t1_d7ltv00"]
    assert comment.url == "https://www.reddit.com/r/politics/comments/52ntoz/_/d7ltv00/"


def test_real_link_posts_keep_the_linked_url_and_decode_entities():
    connector, sink = live(["game of thrones", "infowars"])
    feed(connector, real("praw_domain_youtube_link_posts.json"))
    got = by_id(sink)
    m = got["reddit:t3_5d3uh8"]
    assert m.text == "[Everything]Game of Thrones: Pre-Order Season 6 on Blu-Ray & DVD"  # "&amp;" decoded
    assert m.links == ["https://www.youtube.com/watch?v=PrPwiA-Pcz0"] and m.author.handle == "dima321"
    assert m.created_at == utc(1479231814.0) and m.brand == "Brand"
    assert m.url.startswith("https://www.reddit.com/r/gameofthrones/comments/5d3uh8/")
    assert got["reddit:t3_5d475g"].links == ["https://www.youtube.com/watch?v=HX5Z51T6dHs"]
    assert len(sink.mentions) == 2


def test_real_zero_width_space_is_dropped():
    connector, sink = live(["rachel"])
    feed(connector, real("praw_popular_zero_width_space.json"))
    (m,) = sink.mentions
    assert m.id == "reddit:t3_1skerst" and m.text == "Rachel appreciation post\n\nShe's the cutest <3"
    assert "\u200b" not in m.text and "&#x200B;" not in m.text
    assert m.links == ["https://i.redd.it/nvy5hae0bzug1.jpeg"] and m.author.handle == "WarningCommercial116"
    assert m.created_at == utc(1776095237.0) and m.url.startswith("https://www.reddit.com/r/community/comments/1skerst/")
