"""Deletes and edits end to end on the real broker and node: a deleted post leaves search and its
customer's history, a deletion that overtakes its mention wins, an edit is re-classified in place."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from elasticsearch import Elasticsearch

from harness.wait import wait_for
from schemas import Author, Channel, MentionDeletion, RawMention, Source
from tests.support import searchable

pytestmark = pytest.mark.e2e

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _mention(native: str, text: str, handle: str = "anna", **extra) -> RawMention:
    return RawMention(id=f"mastodon:{native}", source=Source.mastodon, channel=Channel.own,
                      author=Author(handle=handle), text=text, created_at=NOW - timedelta(minutes=5),
                      brand="PakjePost", **extra)


def _deletion(native: str, handle: str | None = "anna") -> MentionDeletion:
    return MentionDeletion(id=f"mastodon:{native}", source=Source.mastodon, deleted_at=NOW,
                           author_key=f"mastodon:{handle}" if handle else None)





def _history(es: Elasticsearch, settings, customer: str) -> int | None:
    doc = es.options(ignore_status=404).get(index=settings.es_customers_index, id=customer)
    return doc["_source"].get("mentions") if doc.get("found") else None


def test_a_deleted_post_leaves_search_and_its_customer_s_history(worker, settings, es, raw_sink):
    raw_sink.publish(_mention("d1", "PakjePost mijn pakket is kwijt, waardeloos"))
    raw_sink.publish(_mention("d2", "PakjePost nog steeds niets gehoord"))
    raw_sink.flush()
    wait_for(lambda: searchable(es, settings, "mastodon:d1") and searchable(es, settings, "mastodon:d2"), timeout=120,
             what="both mentions indexed")
    wait_for(lambda: _history(es, settings, "mastodon:anna") == 2, timeout=60, what="a history of two")

    raw_sink.publish_deletion(_deletion("d1"))
    raw_sink.flush()
    wait_for(lambda: searchable(es, settings, "mastodon:d1") is None, timeout=60, what="the deleted mention to go")
    assert searchable(es, settings, "mastodon:d2") is not None  # only that one
    wait_for(lambda: _history(es, settings, "mastodon:anna") == 1, timeout=60, what="the history to lose it")
    timeline = es.get(index=settings.es_customers_index, id="mastodon:anna")["_source"]["timeline"]
    assert [t["id"] for t in timeline] == ["mastodon:d2"]
    record = es.get(index=settings.es_deletions_index, id="mastodon:d1")["_source"]
    assert set(record) == {"id", "source", "reason", "deleted_at", "recorded_at"}  # no content kept
    assert record["reason"] == "author_deleted"


def test_a_deletion_that_arrives_first_wins(worker, settings, es, raw_sink):
    # keyed by mention id (no author known): it may well overtake the mention on another partition
    raw_sink.publish_deletion(_deletion("early", handle=None))
    raw_sink.flush()
    wait_for(lambda: es.options(ignore_status=404).get(index=settings.es_deletions_index, id="mastodon:early")
             .get("found"), timeout=60, what="the deletion recorded")
    raw_sink.publish(_mention("early", "PakjePost deze post is al weg", handle="bram"))
    raw_sink.publish(_mention("marker", "PakjePost dit is het merkteken", handle="bram"))
    raw_sink.flush()
    wait_for(lambda: searchable(es, settings, "mastodon:marker"), timeout=120, what="the mention after it indexed")
    assert searchable(es, settings, "mastodon:early") is None


def test_an_edit_is_reclassified_under_the_same_id(worker, settings, es, raw_sink):
    raw_sink.publish(_mention("e1", "PakjePost bedankt, top service!", handle="cor"))
    raw_sink.flush()
    first = wait_for(lambda: searchable(es, settings, "mastodon:e1"), timeout=120, what="the original indexed")
    assert first["sentiment"] == "positive" and "edited_at" not in first
    raw_sink.publish(_mention("e1", "PakjePost waardeloos, pakket kapot en niemand reageert", handle="cor",
                          edited_at=NOW))
    raw_sink.flush()
    edited = wait_for(lambda: (d := searchable(es, settings, "mastodon:e1")) and d.get("edited_at") and d, timeout=120,
                      what="the edit re-indexed")
    assert edited["text"].startswith("PakjePost waardeloos") and edited["sentiment"] == "negative"
    es.indices.refresh(index=settings.es_write_alias)
    assert es.count(index=settings.es_write_alias, query={"ids": {"values": ["mastodon:e1"]}})["count"] == 1
