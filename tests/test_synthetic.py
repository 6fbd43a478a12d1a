"""The synthetic generator: deterministic, schema-valid, varied, and a burst that a crisis detector can see."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.synthetic import BurstSpec, generate, generate_records, to_json_line
from schemas.mention import Channel, MessageType, Persona, RawMention

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
N = 520


@pytest.fixture(scope="module")
def records():
    return list(generate_records(N, seed=7))


def test_same_seed_same_stream_and_different_seed_differs():
    a = [to_json_line(m) + label for m, label in generate(200, seed=7)]
    b = [to_json_line(m) + label for m, label in generate(200, seed=7)]
    c = [to_json_line(m) + label for m, label in generate(200, seed=8)]
    assert a == b
    assert a != c
    assert len(set(a) & set(c)) < 10


def test_generate_yields_mention_and_its_label(records):
    pairs = list(generate(N, seed=7))
    assert [(r.mention, r.label) for r in records] == pairs
    assert {label for _, label in pairs} <= {t.value for t in MessageType}


def test_every_mention_round_trips_through_the_strict_schema(records):
    for rec in records:
        m = rec.mention
        assert RawMention.model_validate_json(m.model_dump_json()) == m
        assert RawMention.model_validate_json(to_json_line(m)) == m


def test_ids_unique_and_times_non_decreasing_from_the_default_start(records):
    ids = [r.mention.id for r in records]
    assert len(set(ids)) == len(ids)
    times = [r.mention.created_at for r in records]
    assert times == sorted(times)
    assert times[0] >= datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
    # ~30 per minute: 520 posts span roughly 17 minutes
    assert timedelta(minutes=10) < times[-1] - times[0] < timedelta(minutes=30)


def test_custom_start_and_rate_are_respected():
    start = datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc)
    ms = [m for m, _ in generate(300, seed=3, start=start, rate_per_minute=120.0)]
    assert ms[0].created_at >= start
    assert ms[-1].created_at - start < timedelta(minutes=5)


def test_rejects_naive_start_and_unknown_burst_brand():
    with pytest.raises(ValueError):
        next(generate(1, start=datetime(2026, 10, 1)))
    with pytest.raises(ValueError):
        next(generate(1, burst=BurstSpec("NoSuchBrand", timedelta(0), timedelta(minutes=1), 10.0, "outage")))


@pytest.mark.parametrize("seed", [7, 11, 2026])
def test_languages_roughly_half_half(seed):
    langs = Counter(r.language for r in generate_records(N, seed=seed))
    assert set(langs) == {"nl", "en"}
    assert 0.40 <= langs["nl"] / N <= 0.60


def test_mix_of_types_brands_sources_and_channels(records):
    types = Counter(r.label for r in records)
    assert set(types) == {t.value for t in MessageType}
    assert all(n >= 0.05 * N for n in types.values()), types
    assert types["complaint"] == max(types.values())  # webcare's bread and butter
    assert len({r.mention.brand for r in records}) >= 6
    assert len({r.mention.source for r in records}) >= 6
    assert {r.mention.channel for r in records} == {Channel.own, Channel.third_party}
    assert any(r.mention.in_reply_to for r in records)
    assert any(r.mention.lang_hint for r in records) and any(r.mention.lang_hint is None for r in records)
    assert any(r.mention.author.is_verified and r.mention.author.followers >= 10_000 for r in records)


def test_brand_keyword_is_in_the_text_and_urls_are_fictional(records):
    for r in records:
        m = r.mention
        assert m.matched_keyword and m.matched_keyword in m.text.lower(), m.text
        if m.url is not None:
            host = m.url.split("/")[2]
            assert m.url.startswith("https://") and host.endswith(".example"), m.url
        for word in m.text.split():
            if word.startswith("http"):
                assert word.split("/")[2].endswith(".example"), word


def test_personas_behave(records):
    by_author: dict[str, list] = {}
    for r in records:
        by_author.setdefault(r.mention.author.handle, []).append(r)
    critics = {h: rs for h, rs in by_author.items() if rs[0].persona is Persona.chronic_critic}
    assert len(critics) >= 3
    for handle, rs in critics.items():
        assert len(rs) >= 3, handle
        assert len({r.mention.source for r in rs}) >= 2, handle  # repeated negativity across sites
        assert sum(r.label == "complaint" for r in rs) / len(rs) >= 0.5, handle
    critic_posts = [r for rs in critics.values() for r in rs]
    assert sum(r.label == "complaint" for r in critic_posts) / len(critic_posts) >= 0.7
    lurkers = [rs for rs in by_author.values() if rs[0].persona is Persona.quiet_lurker]
    assert len(lurkers) >= 50 and all(len(rs) == 1 for rs in lurkers)
    ambassador_posts = [r for rs in by_author.values() for r in rs if r.persona is Persona.brand_ambassador]
    assert sum(r.label == "compliment" for r in ambassador_posts) / len(ambassador_posts) >= 0.5
    # temporarily angry: complaints first, then a compliment that closes the story
    arcs = [rs for rs in by_author.values()
            if rs[0].persona is Persona.temporarily_angry and rs[-1].label == "compliment"]
    assert arcs
    for rs in arcs:
        assert [r.label for r in rs[:-1]] == ["complaint"] * (len(rs) - 1) and len(rs) >= 3


def test_burst_raises_the_brands_complaint_rate_fivefold():
    burst = BurstSpec("Belnet", start_offset=timedelta(minutes=10), duration=timedelta(minutes=10),
                      rate_per_minute=20.0, topic="storing")
    recs = list(generate_records(1500, seed=5, burst=burst))
    lo, hi = datetime(2026, 10, 1, 8, 10, tzinfo=timezone.utc), datetime(2026, 10, 1, 8, 20, tzinfo=timezone.utc)
    end = recs[-1].mention.created_at
    assert end > hi + timedelta(minutes=10)  # enough stream on both sides of the window
    complaints = [r.mention.created_at for r in recs if r.mention.brand == "Belnet" and r.label == "complaint"]
    inside = sum(1 for t in complaints if lo <= t < hi)
    outside = len(complaints) - inside
    rate_in = inside / 10.0
    rate_out = outside / ((end - recs[0].mention.created_at).total_seconds() / 60 - 10.0)
    assert rate_in >= 5 * rate_out, (rate_in, rate_out)
    burst_recs = [r for r in recs if r.in_burst]
    assert all(lo <= r.mention.created_at < hi and r.mention.brand == "Belnet" for r in burst_recs)
    assert len({r.mention.author.handle for r in burst_recs}) > 0.6 * len(burst_recs)  # many authors, not one
    assert sum("storing" in r.mention.text.lower() for r in burst_recs) > 0.6 * len(burst_recs)
    ids = [r.mention.id for r in recs]
    assert len(set(ids)) == len(ids)


def test_few_exact_duplicates_and_texts_look_like_posts(records):
    texts = [r.mention.text for r in records]
    assert len(texts) - len(set(texts)) < 0.05 * N
    assert sum(any(ch in t for ch in "@#") for t in texts) > 0.3 * N
    assert sum("?" not in t for t, r in zip(texts, records) if r.label == "question") >= 10  # questions without '?'
    assert all(0 < len(t) <= 600 for t in texts)


def _sample_lines() -> list[bytes]:
    return [line for line in (SAMPLE / "mentions.jsonl").read_bytes().split(b"\n") if line.strip()]


def test_bundled_sample_has_520_valid_and_6_bad_lines():
    valid, bad = [], []
    for line in _sample_lines():
        try:
            valid.append(RawMention.model_validate_json(line.decode("utf-8")))
        except (UnicodeDecodeError, ValidationError):
            bad.append(line)
    assert len(valid) == 520
    assert len(bad) == 6 and len(set(bad)) == 6
    assert any(len(b) > 12_000 for b in bad)
    with pytest.raises(UnicodeDecodeError):
        b"".join(bad).decode("utf-8")
    labels = list(csv.DictReader((SAMPLE / "labels.csv").open(encoding="utf-8")))
    assert [row["id"] for row in labels] == [m.id for m in valid]
    assert {row["true_type"] for row in labels} == {t.value for t in MessageType}
    assert {row["language"] for row in labels} == {"nl", "en"}
    assert (SAMPLE / "mentions.jsonl").stat().st_size < 400_000


def test_each_bad_line_fails_for_a_different_reason():
    bad = _sample_lines()[-6:]
    assert b"\xff" in bad[5]
    objs = []
    for line in bad[:5]:
        try:
            objs.append(json.loads(line))
        except json.JSONDecodeError:
            objs.append(None)
    assert objs[0] is None  # not JSON
    assert "text" not in objs[1]
    assert objs[2]["created_at"] and "T" not in objs[2]["created_at"]
    assert objs[3]["source"] == "myspace"
    assert len(objs[4]["text"]) == 12_000


def test_make_sample_reproduces_the_bundled_files(tmp_path):
    out = subprocess.run([sys.executable, str(SAMPLE / "make_sample.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "mentions.jsonl").read_bytes() == (SAMPLE / "mentions.jsonl").read_bytes()
    assert (tmp_path / "labels.csv").read_bytes() == (SAMPLE / "labels.csv").read_bytes()
