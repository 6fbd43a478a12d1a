"""Hostile bodies at the webhook endpoint (connectors/webhook.py), in-process over ASGI.

Every correctly signed request ends as a 4xx with a reason, or a 202 whose every item is
accepted (its text kept exactly), a duplicate, or rejected with a reason *and* dead-lettered.
Never a 5xx. The sink is the project's in-memory `MemorySink`; the HTTP layer, parsing and
validation are the real ones.
"""
from __future__ import annotations

import json
import time
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from connectors.runtime.checkpoint import MemoryCheckpointStore
from connectors.runtime.sink import MemorySink
from connectors.webhook import WebhookConfig, WebhookIngestConnector
from core.signing import sign_timestamped as sign
from tests.test_fuzz_normalize import ATTACKS, FUZZ_SETTINGS, HOSTILE_TEXT, JSON_VALUES, VALID, payloads

N_REQUESTS = 1500
SECRET = "fuzz-secret"
MAX_BODY = 64 * 1024
MAX_BATCH = 20


def _item(doc: dict) -> dict:
    """A webhook-shaped mention from one of the valid sample mentions."""
    return {"id": doc["id"].partition(":")[2], "text": doc["text"],
            "author": {"handle": doc["author"]["handle"], "display_name": doc["author"].get("display_name")},
            "created_at": doc["created_at"], "url": doc.get("url")}


ITEMS = [_item(d) for d in VALID]
ITEM_WRONG = {
    "id": st.one_of(st.integers(), st.just(""), st.just("has space"), st.just("x" * 201), st.none()),
    "text": st.one_of(st.just(""), st.integers(), st.lists(st.text(max_size=3), max_size=2), st.none()),
    "author": st.one_of(st.just(""), st.just({}), st.just({"handle": "a", "followers": -5}),
                        st.just({"handle": "a", "evil": True}), st.integers()),
    "created_at": st.one_of(st.just("2026-10-01T10:00:00"), st.just("gisteren"), st.integers()),
    "url": st.one_of(st.integers(), st.just({"href": "x"})),
    "source": st.one_of(st.just("carrier-pigeon"), st.integers()),
}


@st.composite
def items(draw) -> dict | object:
    item = dict(draw(st.sampled_from(ITEMS)))
    item["id"] = f"fz-{draw(st.integers(0, 10**9))}"
    kind = draw(st.sampled_from(["ok", "hostile", "wrong", "missing", "extra", "not_object", "deep_raw"]))
    if kind == "hostile":
        item["text"] = draw(HOSTILE_TEXT)
        item["author"] = {"handle": "h", "display_name": draw(st.sampled_from(ATTACKS))}
    elif kind == "wrong":
        field = draw(st.sampled_from(sorted(ITEM_WRONG)))
        item[field] = draw(ITEM_WRONG[field])
    elif kind == "missing":
        del item[draw(st.sampled_from(["id", "text", "author", "created_at"]))]
    elif kind == "extra":
        item[draw(st.sampled_from(["priority", "schema_version", "__proto__", "<b>"]))] = draw(JSON_VALUES)
    elif kind == "not_object":
        return draw(JSON_VALUES)
    elif kind == "deep_raw":  # deep but within the body limit
        depth = draw(st.integers(50, 3_000))
        item["raw"] = "@@DEEP%d@@" % depth
    return item


def _encode(doc) -> bytes:
    text = json.dumps(doc, ensure_ascii=False)
    while "@@DEEP" in text:  # splice deep nesting in where asked (json.dumps itself would recurse)
        start = text.index('"@@DEEP')
        end = text.index('@@"', start + 7) + 3
        depth = int(text[start + 7:end - 3])
        text = text[:start] + '{"a":' * depth + "1" + "}" * depth + text[end:]
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["one", "batch", "raw_payload", "lone_surrogate", "deep", "too_many",
                                 "too_big", "bad_top", "wrong_encoding"]))
    if kind == "one":
        return _encode(draw(items()))
    if kind == "batch":
        return _encode({"mentions": draw(st.lists(items(), min_size=0, max_size=MAX_BATCH))})
    if kind == "raw_payload":  # the raw-topic fuzz payloads, as bodies
        return draw(payloads()).value[:MAX_BODY * 2]
    if kind == "lone_surrogate":
        item = dict(draw(st.sampled_from(ITEMS)), id=f"fz-s{draw(st.integers(0, 10**6))}")
        return _encode(item).replace(b'"text": "', b'"text": "\\ud800' if draw(st.booleans()) else b'"text": "\\udfff x', 1)
    if kind == "deep":
        depth = draw(st.integers(500, 60_000))
        inner = "[" * depth + "]" * depth
        return (f'{{"mentions": {inner}}}' if draw(st.booleans()) else inner).encode()
    if kind == "too_many":
        return _encode({"mentions": [draw(st.sampled_from(ITEMS))] * (MAX_BATCH + 1)})
    if kind == "too_big":
        return _encode({**draw(st.sampled_from(ITEMS)), "text": "x" * (MAX_BODY + draw(st.integers(1, 10_000)))})
    if kind == "bad_top":
        return _encode(draw(st.one_of(st.none(), st.integers(), st.text(max_size=10), st.just({"mentions": None}),
                                      st.just({"mentions": {"id": "x"}}))))
    return json.dumps(_item(VALID[0]) | {"id": f"fz-e{draw(st.integers(0, 10**6))}", "text": "Café één"},
                      ensure_ascii=False).encode(draw(st.sampled_from(["utf-16", "latin-1", "utf-32"])))


CONFIG = WebhookConfig(name="fuzz", port=0, api_keys={"fz": SECRET}, max_body_bytes=MAX_BODY, max_batch=MAX_BATCH,
                       senders={"fz": {"source": "webhook", "brand": "PakjePost"}}, brands=[{"name": "PakjePost"}])


def _endpoint() -> tuple[TestClient, MemorySink]:
    """A fresh connector per request: what one request does must not depend on the last (dedupe)."""
    sink = MemorySink()
    connector = WebhookIngestConnector(CONFIG, sink, MemoryCheckpointStore())
    return TestClient(connector.app(), raise_server_exceptions=False), sink


def _post(client: TestClient, body: bytes):
    stamp = str(int(time.time()))
    return client.post("/ingest", content=body, headers={
        "X-Luister-Key": "fz", "X-Luister-Timestamp": stamp, "X-Luister-Signature": sign(SECRET, stamp, body),
        "Content-Type": "application/json"})


def _sent_items(body: bytes) -> list | None:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return doc.get("mentions") if isinstance(doc, dict) and "mentions" in doc else [doc]


def test_hostile_bodies_get_a_4xx_with_reason_or_each_item_accounted_for():
    statuses: Counter[int] = Counter()
    totals: Counter[str] = Counter()

    @settings(max_examples=N_REQUESTS, **FUZZ_SETTINGS)
    @given(body=bodies())
    def check(body: bytes) -> None:
        client, sink = _endpoint()
        resp = _post(client, body)
        totals.update(published=len(sink.mentions), dead_lettered=len(sink.dead_letters))
        statuses[resp.status_code] += 1
        assert resp.status_code < 500, f"{resp.status_code} for {body[:200]!r}"
        answer = resp.json()
        if resp.status_code != 202:
            assert 400 <= resp.status_code < 500 and str(answer.get("error", "")).strip(), answer
            return
        sent = _sent_items(body)
        assert isinstance(sent, list)
        accepted, rejected = answer["accepted"], answer["rejected"]
        assert len(accepted) + len(rejected) + answer["duplicates"] == len(sent), answer
        assert all(str(r["reason"]).strip() for r in rejected), "every refusal says why"
        assert len(sink.dead_letters) == len(rejected), "every refused item is dead-lettered"
        published = {m.id.partition(":")[2].partition(".")[2]: m for m in sink.mentions}
        texts: dict[str, list] = {}  # an id may repeat in a batch: the first valid one is accepted
        for i in sent:
            if isinstance(i, dict):
                texts.setdefault(str(i.get("id")), []).append(i.get("text"))
        for native in accepted:
            key = native.partition(".")[2]
            assert published[key].text in texts[key], "text kept exactly; escaping is for display"

    check()
    print(f"\n{sum(statuses.values())} requests: status codes {dict(sorted(statuses.items()))}; "
          f"{totals['published']} mentions published, {totals['dead_lettered']} dead-lettered")
    assert sum(statuses.values()) >= N_REQUESTS
    assert {202, 400, 413} <= statuses.keys()
