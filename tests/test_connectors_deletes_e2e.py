"""Deletes and edits from real platform payloads, end to end per platform family, on the real broker
and node: the connector's own code publishes, the worker indexes, edits and removes.

- stream: Mastodon's streaming events (from the Mastodon documentation, tests/fixtures/.../real/);
- webhook: Meta Page feed deliveries (Yoctol/bottender's recorded values) through the signed POST path;
- poll: Reddit responses recorded by PRAW's integration tests (a comment edited, then deleted)."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from elasticsearch import Elasticsearch

from connectors.mastodon import MastodonConfig, MastodonConnector
from connectors.meta import MetaConfig, MetaWebhookConnector
from connectors.reddit import RedditConfig, RedditConnector, listing_children
from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.live import Event
from harness.wait import wait_for
from tests.fixtures.connectors.fakes import serve
from tests.support import searchable
from tests.test_connectors_mastodon import real_sse
from tests.test_connectors_meta import SECRET, graph_any, real, signed
from tests.test_connectors_reddit import real as reddit_real

pytestmark = pytest.mark.e2e





def test_stream_family_mastodon_update_edit_and_delete(worker, settings, es, raw_sink):
    connector = MastodonConnector(MastodonConfig(name="masto-e2e", base_url="https://mastodon.social",
                                                 streams=["public"], brands=[{"name": "Brand",
                                                                              "keywords": ["test", "edited"]}]),
                                  raw_sink, MemoryCheckpointStore())
    events = real_sse()

    def send(name: str, needle: str) -> None:
        data = next(d for n, d in events if n == name and needle in d)
        connector.handle(connector.event_for("public", name, data))
        raw_sink.flush()

    send("update", '"id":"108914398911648589"')  # "<p>test</p>"
    created = wait_for(lambda: [m for m in _search_all(es, settings) if m["text"] == "test"], timeout=120,
                       what="the streamed status indexed")
    mention_id = created[0]["id"]
    send("status.update", '"id":"109348677773283527"')  # a status edited on the server
    edited = wait_for(lambda: [m for m in _search_all(es, settings) if m.get("edited_at")], timeout=120,
                      what="the edited status indexed")
    assert edited[0]["text"] == "edited" and edited[0]["edited_at"].startswith("2022-11-15T16:07:29")
    send("delete", "108914398911648589")
    wait_for(lambda: searchable(es, settings, mention_id) is None, timeout=60, what="the deleted status to go")
    assert es.get(index=settings.es_deletions_index, id=mention_id)["_source"]["reason"] == "author_deleted"


def _search_all(es: Elasticsearch, settings) -> list[dict]:
    es.indices.refresh(index=settings.es_write_alias)
    return [h["_source"] for h in es.search(index=settings.es_write_alias, size=100)["hits"]["hits"]]


def test_webhook_family_meta_feed_edit_and_remove(worker, settings, es, raw_sink):
    async def post_all() -> None:
        async with serve(graph_any()) as base, httpx.AsyncClient(timeout=30) as http:
            config = MetaConfig(name="meta-e2e", port=0, app_secret=SECRET, verify_token="t", access_token="tok",
                                graph_url=f"{base}/v21.0", commit_every=1,
                                brands=[{"name": "Bottender", "own_accounts": ["137542570280222", "137542570280111"]}])
            connector = MetaWebhookConnector(config, raw_sink, MemoryCheckpointStore())
            stop = asyncio.Event()
            task = asyncio.create_task(connector.run(stop))
            await asyncio.wait_for(connector.ready.wait(), 30)
            url = f"http://127.0.0.1:{connector.bound_port}/meta/webhook"
            for doc in real("bottender_feed.json"):
                body = json.dumps(doc).encode()
                assert (await http.post(url, content=body, headers=signed(body))).status_code == 200
            stop.set()
            await task

    asyncio.run(post_all())
    raw_sink.flush()
    kept, edited = "facebook:139560936755999_140077616693321", "facebook:137542570280222_139560936744456"
    removed = ["facebook:137542570280222_139610053406744", "facebook:139560936744456_139597043408045"]
    wait_for(lambda: searchable(es, settings, kept) and searchable(es, settings, edited), timeout=120,
             what="the page's comments indexed")
    assert searchable(es, settings, edited)["edited_at"] and searchable(es, settings, edited)["text"] == "1234"
    wait_for(lambda: all(es.options(ignore_status=404).get(index=settings.es_deletions_index, id=m).get("found")
                         for m in removed), timeout=60, what="both removals recorded")
    wait_for(lambda: all(searchable(es, settings, m) is None for m in removed), timeout=60,
             what="removed posts out of search")


def test_poll_family_reddit_edit_then_author_delete(worker, settings, es, raw_sink):
    connector = RedditConnector(RedditConfig(name="reddit-e2e", client_id="app-id", client_secret="app-secret",
                                             listings=["r/all"], brands=[{"name": "Brand", "keywords": ["new text"]}]),
                                raw_sink, MemoryCheckpointStore())
    (edited,) = reddit_real("praw_comment_edited.json")["json"]["data"]["things"]
    connector.handle(Event(payload=edited))
    raw_sink.flush()
    doc = wait_for(lambda: searchable(es, settings, "reddit:t1_d1616q2"), timeout=120, what="the edited comment indexed")
    assert doc["text"] == "New text" and doc["edited_at"]
    for child in listing_children(reddit_real("praw_info_comment_deleted.json")):  # the next poll: "[deleted]"
        connector.handle(Event(payload=child))
    raw_sink.flush()
    wait_for(lambda: searchable(es, settings, "reddit:t1_d1616q2") is None, timeout=60, what="the deleted comment to go")
