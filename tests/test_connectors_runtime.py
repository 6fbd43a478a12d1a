"""The shared connector machinery: matching, backoff, rate-limit headers, config, checkpoints, CSV."""
from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import datetime, timedelta, timezone

import pytest

from connectors.csv_replay import CsvReplayConnector, row_to_document
from connectors.reddit import RedditConfig
from connectors.registry import config_keys, connectors, lookup
from connectors.rss import RssConfig
from connectors.runtime.checkpoint import Checkpoint, FileCheckpointStore, MemoryCheckpointStore
from connectors.runtime.config import ConfigError, load_config
from connectors.runtime.dedupe import RecentIds
from connectors.runtime.live import Event, LiveConnector, Post
from connectors.runtime.matching import OWN_POST, BrandRule, match_post
from connectors.runtime.sink import MemorySink
from connectors.runtime.text import html_to_text
from core.retry import Backoff, quota_wait_seconds, rate_limit_delay, retry_after_seconds
from schemas import MAX_TEXT_CHARS, DeadLetterReason, RawMention
from schemas.mention import Author, Channel, Source

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)
RULES = [BrandRule.build("PakjePost", ["pakje post"], ["@PakjePost", "104729348234"]),
         BrandRule.build("Vliegwel", [], [])]


def test_brand_matching_whole_words_hashtags_handles_and_channel():
    m = match_post("Weer vertraging bij #PakjePost", "sanne", [], RULES)
    assert (m.brand, m.channel, m.keyword) == ("PakjePost", Channel.third_party, "pakjepost")
    assert match_post("de pakje post komt nooit", "x", [], RULES).keyword == "pakje post"
    assert match_post("pakjepostbode is een woord", "x", [], RULES) is None  # not a whole word
    own = match_post("waar blijft mijn pakket?", "fleur", ["104729348234"], RULES)  # on the brand's page
    assert (own.brand, own.channel, own.keyword) == ("PakjePost", Channel.own, None)
    assert match_post("@PakjePost help", "kees", ["pakjepost"], RULES).channel == Channel.own
    assert match_post("we kijken ernaar #PakjePost", "PakjePost", [], RULES) == OWN_POST
    assert match_post("we kijken ernaar", ["someone", "pakjepost"], [], RULES) == OWN_POST  # author id alias
    assert match_post("Vliegwel lost my bag", "x", [], RULES).brand == "Vliegwel"
    assert match_post("nothing here", "x", [], RULES) is None
    assert match_post("nothing here", "x", [], RULES, brand_hint="Vliegwel").brand == "Vliegwel"
    assert match_post("x", "y", [], [], brand_hint="Other").brand == "Other"


def test_backoff_is_capped_jittered_and_resets():
    b = Backoff(1.0, 8.0, rng=random.Random(1))
    delays = [b.next() for _ in range(6)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8, 8]):
        assert base / 2 <= delay <= base
    b.reset()
    assert b.next() <= 1.0
    linear = Backoff(0.25, 1.0, mode="linear", jitter=False)
    assert [linear.next() for _ in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_retry_after_and_rate_limit_headers():
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    http_date = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds({"retry-after": http_date}, NOW) == 30
    assert retry_after_seconds({}) is None
    # X: epoch reset; Reddit: seconds left; Mastodon: ISO 8601
    assert quota_wait_seconds({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW.timestamp()) + 90)},
                              NOW) == 90
    assert quota_wait_seconds({"X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "42"}, NOW) == 42
    assert quota_wait_seconds({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-10-01T12:05:00.000Z"},
                              NOW) == 300
    assert quota_wait_seconds({"x-ratelimit-remaining": "12", "x-ratelimit-reset": "42"}, NOW) is None
    assert rate_limit_delay({"x-rate-limit-reset": str(int(NOW.timestamp()) + 5)}, NOW) == 5
    assert rate_limit_delay({"Retry-After": "3", "x-rate-limit-reset": "99"}, NOW) == 3


def test_config_file_env_and_secrets(tmp_path, monkeypatch, caplog):
    for key in [k for k in __import__("os").environ if k.startswith("LUISTER_")]:
        monkeypatch.delenv(key)
    path = tmp_path / "connectors.toml"
    path.write_text('[[brands]]\nname = "PakjePost"\nkeywords = ["pakje post"]\n\n'
                    '[reddit]\nclient_id = "abc"\nlistings = ["r/thenetherlands"]\npoll_interval_seconds = 30\n\n'
                    '[rss]\nfeeds = ["https://example.org/feed.xml"]\n')
    known = set(connectors())
    with pytest.raises(ConfigError, match="client_secret"):
        load_config(RedditConfig, path, known_kinds=known)  # required secret missing
    monkeypatch.setenv("LUISTER_REDDIT_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("LUISTER_REDDIT_POLL_INTERVAL_SECONDS", "90")
    config = load_config(RedditConfig, path, known_kinds=known)
    assert (config.client_id, config.poll_interval_seconds, config.brands[0].name) == ("abc", 90, "PakjePost")
    assert config.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in str(config.model_dump())
    # the same file serves another connector: its own table plus the shared brands
    assert load_config(RssConfig, path, known_kinds=known).feeds == ["https://example.org/feed.xml"]
    # a secret in the file is refused, by name, without echoing it
    path.write_text('[reddit]\nclient_id = "abc"\nclient_secret = "in-the-file"\nlistings = ["r/x"]\n')
    with pytest.raises(ConfigError, match="LUISTER_REDDIT_CLIENT_SECRET") as info:
        load_config(RedditConfig, path, known_kinds=known)
    assert "in-the-file" not in str(info.value)
    # a secret file works too
    monkeypatch.delenv("LUISTER_REDDIT_CLIENT_SECRET")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "luister_reddit_client_secret").write_text("from-a-file")
    monkeypatch.setenv("LUISTER_SECRETS_DIR", str(secrets))
    path.write_text('[reddit]\nclient_id = "abc"\nlistings = ["r/x"]\n')
    assert load_config(RedditConfig, path, known_kinds=known).client_secret.get_secret_value() == "from-a-file"


def test_registry_lists_every_connector_with_keys_and_secret_env_names():
    assert {"rss", "mastodon", "bluesky", "reddit", "twitter", "meta", "webhook", "jsonl", "csv"} <= set(connectors())
    assert lookup("x").name == "twitter" and lookup("instagram").name == "meta"
    keys = {k["key"]: k for k in config_keys(lookup("twitter").config)}
    assert keys["bearer_token"]["secret"] and keys["bearer_token"]["env"] == "LUISTER_TWITTER_BEARER_TOKEN"
    assert keys["bearer_token"]["default"] is None and keys["heartbeat_timeout_seconds"]["default"] == 21.0


def test_checkpoint_stores_round_trip(tmp_path):
    for store in (MemoryCheckpointStore(), FileCheckpointStore(tmp_path / "ckpt")):
        assert store.load("rss-a") is None
        store.save("rss-a", Checkpoint(cursor={"https://x/feed": {"etag": "W/\"1\""}}, seen=["a", "b"]))
        store.save("rss-a", Checkpoint(cursor={"https://x/feed": {"etag": "W/\"2\""}}, seen=["a", "b", "c"]))
        loaded = store.load("rss-a")
        assert loaded.cursor == {"https://x/feed": {"etag": "W/\"2\""}} and loaded.seen == ["a", "b", "c"]


def test_recent_ids_forget_the_oldest():
    ids = RecentIds(3, ["a", "b"])
    for x in ("c", "d", "b"):
        ids.add(x)
    assert ids.snapshot() == ["c", "d", "b"] and "a" not in ids


def test_html_to_text():
    assert html_to_text('<p>Hallo <a href="#">@<span>pakjepost</span></a></p><p>Nu &amp; later</p>') \
        == "Hallo @pakjepost\nNu & later"
    assert html_to_text("plain &quot;text&quot;") == 'plain "text"'


class _ListConnector(LiveConnector):
    """A connector over a list of payloads: exercises the base class alone."""

    kind, source, Config = "test", Source.forum, RssConfig

    def __init__(self, *args, payloads=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.payloads = list(payloads)

    async def stream(self, key):
        for n, payload in enumerate(self.payloads):
            yield Event(payload=payload, cursor=n + 1)
        await asyncio.Event().wait()  # then idle, like a quiet stream

    def parse(self, doc):
        yield Post(native_id=doc["id"], text=doc["text"], author=Author(handle=doc["user"]),
                   created_at=datetime.fromisoformat(doc["at"]))


def test_base_class_dedupes_dead_letters_and_commits_after_flush(caplog):
    good = {"id": "1", "text": "PakjePost is te laat", "user": "a", "at": "2026-10-01T10:00:00+00:00"}
    payloads = [json.dumps(good).encode(), b'{"id": "2", "text": ', json.dumps({**good, "id": "3", "text": "PakjePost " + "x" * 10_001}),
                {"id": "4"}, json.dumps(good), b"\xff\xfe", json.dumps({**good, "id": "5", "text": "geen merk"})]
    sink, store = MemorySink(), MemoryCheckpointStore()
    config = RssConfig(feeds=["https://x"], brands=[{"name": "PakjePost"}], commit_every=1)
    connector = _ListConnector(config, sink, store, payloads=payloads)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(connector.run(stop))
        while connector.cursor.get("main") != len(payloads):
            await asyncio.sleep(0.01)
        stop.set()
        return await task

    with caplog.at_level(logging.WARNING):
        stats = asyncio.run(main())
    # one truncation policy: the over-long text is cut and published, not dead-lettered
    assert sink.ids == ["forum:1", "forum:3"] and stats.duplicates == 1 and stats.unmatched == 1
    long_one = sink.mentions[1]
    assert long_one.truncated and len(long_one.text) <= MAX_TEXT_CHARS and long_one.text.endswith(" …")
    assert not sink.mentions[0].truncated
    reasons = [d.reason for d in sink.dead_letters]
    assert reasons == [DeadLetterReason.malformed_json, DeadLetterReason.schema_violation,
                       DeadLetterReason.undecodable]
    assert all(d.stage == "connector.rss" and d.detail for d in sink.dead_letters)
    assert "bad payload dead-lettered" in caplog.text
    saved = store.load("rss")  # the instance name defaults to the config kind
    assert saved.cursor == {"main": len(payloads)} and "1" in saved.seen and sink.flushes >= store.saves


def test_csv_rows_become_mentions_and_bad_rows_pass_on(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "id,source,channel,handle,display_name,followers,text,lang,created_at,url,brand\n"
        "123,twitter,own,@sanne_nl,Sanne,310,\"PakjePost, waar blijft mijn pakket?\",nl,2026-10-01T10:00:00+00:00,"
        "https://x.com/sanne_nl/status/123,PakjePost\n"
        ",review_site,,Emma,,,Lost luggage again,en,2026-10-01T11:00:00Z,,Vliegwel\n"
        "999,carrier-pigeon,,x,,,text,,2026-10-01T11:00:00Z,,Vliegwel\n", encoding="utf-8")
    records = list(CsvReplayConnector(path).records())
    first, second, bad = records
    assert isinstance(first, RawMention) and first.id == "twitter:123" and first.author.followers == 310
    assert first.channel == Channel.own and first.lang_hint == "nl"
    assert isinstance(second, RawMention) and second.id.startswith("review_site:") and second.channel.value == \
        "third_party"
    assert isinstance(bad, bytes) and json.loads(bad)["source"] == "carrier-pigeon"
    again = list(CsvReplayConnector(path).records())[1]
    assert again.id == second.id  # derived ids are stable, so a replay overwrites
    assert row_to_document({"id": "twitter:5", "source": "twitter"})["id"] == "twitter:5"


def test_every_config_example_in_the_docs_loads(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "connectors.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(# luister connect (\w+) .*?)```", doc, flags=re.S)
    assert {kind for _, kind in blocks} == set(connectors()) - {"jsonl"}, "one example per connector"
    for key in [k for k in __import__("os").environ if k.startswith("LUISTER_")]:
        monkeypatch.delenv(key)
    for name, value in {"LUISTER_MASTODON_ACCESS_TOKEN": "t", "LUISTER_REDDIT_CLIENT_SECRET": "s",
                        "LUISTER_TWITTER_BEARER_TOKEN": "b", "LUISTER_META_APP_SECRET": "a",
                        "LUISTER_META_VERIFY_TOKEN": "v", "LUISTER_WEBHOOK_API_KEYS": '{"helpdesk": "h"}'}.items():
        monkeypatch.setenv(name, value)
    for text, kind in blocks:
        path = tmp_path / f"{kind}.toml"
        path.write_text(text, encoding="utf-8")
        config = load_config(lookup(kind).config, path, known_kinds=set(connectors()))
        assert config.kind == kind


def test_text_over_the_limit_is_cut_at_a_word_boundary():
    from connectors.runtime.live import truncate_text

    words = "klacht " * 3000  # 21,000 characters
    cut, truncated = truncate_text(words, limit=100)
    assert truncated and 90 < len(cut) <= 100 and cut.endswith(" …") and set(cut[:-2].split()) == {"klacht"}
    one_word = "x" * 500
    cut, truncated = truncate_text(one_word, limit=100)
    assert truncated and cut == "x" * 98 + " …"  # no boundary in reach: a hard cut
    assert truncate_text("kort", limit=100) == ("kort", False)


def test_deletions_edits_and_ignored_payloads_through_the_base_class():
    from datetime import datetime, timezone

    from connectors.runtime.live import Deletion, Ignored, Post
    from schemas import Author

    when = datetime(2026, 10, 1, 10, 0, tzinfo=timezone.utc)

    class _Kinds(_ListConnector):
        def parse(self, doc):
            if doc.get("private"):
                raise Ignored("not_public")
            if doc.get("deleted"):
                return [Deletion(doc["id"], when, author_handle="@Anna")]
            return [Post(doc["id"], doc["text"], Author(handle="anna"), when,
                         edited_at=when if doc.get("edited") else None)]

    sink = MemorySink()
    config = RssConfig(feeds=["https://x"], brands=[{"name": "PakjePost"}])
    connector = _Kinds(config, sink, MemoryCheckpointStore(), payloads=[])
    for doc in ({"id": "1", "text": "PakjePost kwijt"}, {"id": "1", "text": "PakjePost kwijt!", "edited": True},
                {"id": "1", "text": "PakjePost kwijt"}, {"id": "2", "private": True}, {"id": "1", "deleted": True}):
        connector.process(doc)
    assert [m.id for m in sink.mentions] == ["forum:1", "forum:1"]  # the edit again, the plain repeat not
    assert sink.mentions[1].edited_at == when and sink.mentions[1].text == "PakjePost kwijt!"
    assert [(d.id, d.reason, d.author_key) for d in sink.deletions] == [("forum:1", "author_deleted", "forum:anna")]
    assert connector.stats.ignored == {"not_public": 1} and connector.stats.deleted == 1
    assert not sink.dead_letters
