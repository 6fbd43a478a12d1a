"""GDPR erasure in Elasticsearch: a customer's mentions (every version and month), profile,
watchlist entries and alert references go; an audit record without personal data stays.

The audit record names the subject only by an HMAC of the customer id (keyed by the setting
`audit_hmac_key`), so "was this person erased, and when?" can be answered by whoever holds
the key, while the audit index itself holds no handle, name or text.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, scan

from core.signing import hmac_hex
from schemas import Source
from sinks.elasticsearch import watchlists

log = logging.getLogger(__name__)

AUDIT_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "erasure_id": {"type": "keyword"},
        "action": {"type": "keyword"},
        "subject_hash": {"type": "keyword"},
        "requested_at": {"type": "date"},
        "completed_at": {"type": "date"},
        "mentions_deleted": {"type": "long"},
        "profiles_deleted": {"type": "long"},
        "watchlists_updated": {"type": "long"},
        "alerts_deleted": {"type": "long"},
        "alerts_scrubbed": {"type": "long"},
        "indices": {"type": "keyword"},
        "erase_topic": {"type": "keyword"},
        "erase_partition": {"type": "integer"},
        "erase_offset": {"type": "long"},
        "ticket": {"type": "keyword"},
    },
}
REDACTED = "[redacted: GDPR erasure]"


def redact_alert(alert: dict, mention_ids: set[str], who: set[str]) -> dict:
    """An alert that involved the customer keeps its kind, brand, times and counts, but loses what
    could identify them: their mention ids, the summary (it quotes text and @handle), the evidence,
    and a topic that is their id (repeated-negativity alerts are keyed by customer)."""
    out = dict(alert)
    out["mention_ids"] = [m for m in alert.get("mention_ids") or [] if m not in mention_ids]
    if alert.get("topic") in who:  # (such alerts are deleted whole; this is a second line of defence)
        out["topic"] = REDACTED
    out["summary"] = REDACTED
    out["evidence"] = {}
    return out


def subject_hash(customer_id: str, key: str) -> str:
    return hmac_hex(key, customer_id)


def handle_of(customer_id: str) -> str | None:
    """The handle in an account-style customer id (`twitter:jdevries` -> `jdevries`)."""
    source, sep, handle = customer_id.partition(":")
    return handle if sep and source in {s.value for s in Source} else None


@dataclass
class Erasure:
    erasure_id: str
    subject_hash: str
    requested_at: str
    completed_at: str | None = None
    action: str = "erase_customer"
    mentions_deleted: int = 0
    profiles_deleted: int = 0
    watchlists_updated: int = 0
    alerts_deleted: int = 0
    alerts_scrubbed: int = 0
    indices: list[str] = field(default_factory=list)
    erase_topic: str | None = None
    erase_partition: int | None = None
    erase_offset: int | None = None
    ticket: str | None = None

    @classmethod
    def start(cls, customer_id: str, key: str, ticket: str | None = None) -> "Erasure":
        return cls(uuid.uuid4().hex, subject_hash(customer_id, key), datetime.now(timezone.utc).isoformat(),
                   ticket=ticket)


def _existing(es: Elasticsearch, pattern: str) -> list[str]:
    return sorted(es.indices.get(index=pattern, expand_wildcards="open").body)


def _mention_query(ids: list[str]) -> dict:
    return {"terms": {"customer_id": ids}}


def _profile_query(ids: list[str]) -> dict:
    return {"bool": {"should": [{"ids": {"values": ids}}, {"terms": {"customer_id": ids}},
                                {"terms": {"accounts": ids}}], "minimum_should_match": 1}}


def _alert_query(mention_ids: list[str], who: list[str]) -> dict:
    should: list[dict] = []
    if mention_ids:
        should.append({"terms": {"mention_ids": mention_ids}})
    should += [{"match_phrase": {"summary": f"@{h}"}} for h in {handle_of(c) for c in who} if h]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _delete_matching(es: Elasticsearch, indices: list[str], query: dict) -> list[str]:
    """Delete every match (scroll + bulk: no delete-by-query module needed); returns their ids."""
    if not indices:
        return []
    hits = [(h["_index"], h["_id"]) for h in scan(es, index=",".join(indices), query={"query": query}, _source=False)]
    # 404: the document went meanwhile (the profile agent erases the profile too): gone is the goal
    bulk(es, [{"_op_type": "delete", "_index": i, "_id": d} for i, d in hits], refresh=True, ignore_status=(404,))
    return [d for _, d in hits]


def identities(es: Elasticsearch, customers_index: str, customer_id: str) -> list[str]:
    """The id plus, from the profile, the customer it belongs to and every account linked to it
    (one person: mentions from before a link carry the account's own id as customer_id)."""
    ids = {customer_id}
    profiles = _existing(es, f"{customers_index}*")
    if profiles:
        for hit in es.search(index=",".join(profiles), query=_profile_query([customer_id]), size=100,
                             source=["accounts"])["hits"]["hits"]:
            ids.add(hit["_id"])
            ids.update(hit["_source"].get("accounts") or [])
    return sorted(ids)


def remaining(es: Elasticsearch, *, mention_prefix: str, customers_index: str, ids: list[str]) -> int:
    """Documents about the customer still searchable in the mention and profile indices."""
    total = 0
    for indices, query in ((_existing(es, f"{mention_prefix}-v*"), _mention_query(ids)),
                           (_existing(es, f"{customers_index}*"), _profile_query(ids))):
        if indices:
            total += es.count(index=",".join(indices), query=query)["count"]
    return total


def erase(es: Elasticsearch, erasure: Erasure, *, customer_id: str, mention_prefix: str, customers_index: str,
          watchlist_index: str, alerts_index: str, progress=lambda _msg: None) -> Erasure:
    """Delete everything about `customer_id`; fills in the counts of `erasure` (not yet recorded)."""
    who = identities(es, customers_index, customer_id)
    if len(who) > 1:
        progress(f"the profile links {len(who) - 1} account(s): erasing those too")
    mention_indices = _existing(es, f"{mention_prefix}-v*")  # every version and month, in the alias or not
    ids = _delete_matching(es, mention_indices, _mention_query(who))
    erasure.mentions_deleted = len(ids)
    erasure.indices += mention_indices
    progress(f"mentions: deleted {len(ids)} from {len(mention_indices)} index(es)")
    profile_indices = _existing(es, f"{customers_index}*")
    erasure.profiles_deleted = len(_delete_matching(es, profile_indices, _profile_query(who)))
    erasure.indices += profile_indices
    progress(f"profiles: deleted {erasure.profiles_deleted}")
    erasure.watchlists_updated = watchlists.forget(es, watchlist_index, who,
                                                   [h for h in map(handle_of, who) if h])
    progress(f"watchlists: removed from {erasure.watchlists_updated} list(s)")
    alert_indices = _existing(es, f"{alerts_index}*")
    if alert_indices:
        # alerts about the customer (repeated negativity is keyed by customer: id and topic name them) go
        erasure.alerts_deleted = len(_delete_matching(es, alert_indices, {"terms": {"topic": who}}))
        # alerts that merely involved them (a surge they were part of) are redacted
        hits = list(scan(es, index=",".join(alert_indices), query={"query": _alert_query(ids, who)},
                         seq_no_primary_term=True))
        # if_seq_no: an alert the alerts sink rewrote meanwhile fails here instead of being overwritten
        ok, errors = bulk(es, [{"_op_type": "index", "_index": h["_index"], "_id": h["_id"],
                                "if_seq_no": h["_seq_no"], "if_primary_term": h["_primary_term"],
                                "_source": redact_alert(h["_source"], set(ids), set(who))} for h in hits],
                          refresh=True, raise_on_error=False)
        if errors:
            raise RuntimeError(f"{len(errors)} alert(s) changed while being redacted; run it again")
        erasure.alerts_scrubbed = ok
        progress(f"alerts: deleted {erasure.alerts_deleted} about them, redacted {ok} that involved them")
    left = remaining(es, mention_prefix=mention_prefix, customers_index=customers_index, ids=who)
    if left:
        raise RuntimeError(f"{left} document(s) still match after the erasure; run it again")
    erasure.completed_at = datetime.now(timezone.utc).isoformat()
    return erasure


def record(es: Elasticsearch, audit_index: str, erasure: Erasure) -> None:
    if not es.indices.exists(index=audit_index):
        es.options(ignore_status=400).indices.create(
            index=audit_index, settings={"number_of_shards": 1, "number_of_replicas": 0}, mappings=AUDIT_MAPPING)
    es.index(index=audit_index, id=erasure.erasure_id, document={k: v for k, v in asdict(erasure).items()
                                                                   if v is not None}, refresh=True)
    log.info("erasure recorded", extra={"erasure_id": erasure.erasure_id, "mentions": erasure.mentions_deleted,
                                        "profiles": erasure.profiles_deleted})
