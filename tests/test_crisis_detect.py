"""Crisis detection maths, without a broker: tail tests, baselines, topics, the alert lifecycle."""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from connectors.synthetic import DEFAULT_START, BurstSpec, daily_profile, generate
from core.settings.crisis import CrisisSettings
from pipeline.crisis.baseline import SeriesBaseline, hour_of_week
from pipeline.crisis.detect import BrandState, Detector, Facts
from pipeline.crisis.simulate import Replay, classify
from pipeline.crisis.stats import binom_sf, poisson_sf, quasi_poisson_sf
from pipeline.crisis.topics import topics_of
from schemas import AlertKind, AlertStatus

CFG = CrisisSettings()
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=timezone.utc).timestamp()  # a Monday


# ------------------------------------------------------------------ stats
@pytest.mark.parametrize("k,mu", [(1, 0.5), (5, 1.3), (11, 1.3), (12, 2.0), (30, 10.0), (3, 20.0), (60, 50.0)])
def test_poisson_tail_matches_the_exact_sum(k, mu):
    exact = sum(math.exp(-mu + i * math.log(mu) - math.lgamma(i + 1)) for i in range(k, k + 400))
    assert poisson_sf(k, mu) == pytest.approx(exact, rel=1e-9)


def test_tail_edges_binomial_and_dispersion():
    assert poisson_sf(0, 3.0) == 1.0 and poisson_sf(4, 0.0) == 0.0
    exact = sum(math.comb(20, i) * 0.4 ** i * 0.6 ** (20 - i) for i in range(15, 21))
    assert binom_sf(15, 20, 0.4) == pytest.approx(exact, rel=1e-9)
    assert binom_sf(0, 5, 0.5) == 1.0 and binom_sf(6, 5, 0.5) == 0.0
    # overdispersed counts are less surprising
    assert quasi_poisson_sf(12, 2.0, 3.0) > quasi_poisson_sf(12, 2.0, 1.0)


# ------------------------------------------------------------------ baseline
def test_hour_of_week_starts_on_monday_utc():
    assert hour_of_week(T0) == 9
    assert hour_of_week(datetime(2026, 10, 4, 23, 30, tzinfo=timezone.utc).timestamp()) == 167


def test_baseline_cold_start_then_level_then_seasonal_slot():
    cfg = CrisisSettings(cold_start_minutes=10, season_min_minutes=5)
    b = SeriesBaseline.new(seasonal=True)
    exp = b.expected(T0, cfg)
    assert exp.source == "cold_start" and exp.rate_per_minute == cfg.cold_start_rate_per_minute
    for minute in range(30):  # a quiet half hour at 09:00 on Monday: 1 per minute
        b.learn(1, hour_of_week(T0 + minute * 60), cfg)
    exp = b.expected(T0, cfg)
    assert exp.source in ("level", "seasonal") and exp.rate_per_minute == pytest.approx(1.0, abs=0.05)
    # a busy slot learned "last week": the same hour now expects it although the level is low
    week = 7 * 24 * 3600
    for minute in range(10):
        b.learn(9, hour_of_week(T0 + 3600 + minute * 60), cfg)  # 10:00 was busy
    for minute in range(60):
        b.learn(1, hour_of_week(T0 + 7200 + minute * 60), cfg)  # 11:00 quiet again: the level drops back
    at_ten = b.expected(T0 + week + 3600, cfg)
    assert at_ten.source == "seasonal" and at_ten.rate_per_minute > 5
    assert b.expected(T0 + week + 3 * 3600, cfg).source == "level"  # 12:00: no slot history yet
    again = SeriesBaseline.from_json(json.loads(json.dumps(b.to_json()))).expected(T0 + week + 3600, cfg)
    assert (again.source, again.hour_of_week) == (at_ten.source, at_ten.hour_of_week)
    assert again.rate_per_minute == pytest.approx(at_ten.rate_per_minute, rel=1e-4)


# ------------------------------------------------------------------ topics
def test_topics_are_hashtags_and_keywords_not_the_brand():
    text = "@Belnet weer een storing!! #Belnet #BelnetStoring internet ligt eruit"
    assert topics_of(text, "Belnet", CFG.topic_keywords, brand_handles=["@belnet"]) == \
        ["#belnetstoring", "storing", "eruit"]
    assert topics_of("Data breach at Bankier? #databreach", "Bankier", CFG.topic_keywords, limit=1) == ["#databreach"]
    assert topics_of("just a question", "Bankier", CFG.topic_keywords) == []


# ------------------------------------------------------------------ helpers
def facts(i: int, ts: float, sentiment: str = "negative", brand: str = "Belnet", **kw) -> Facts:
    fields = dict(id=f"twitter:{i}", brand=brand, ts=ts, sentiment=sentiment, text=f"post {i}",
                  url=f"https://social.example/u/status/{i}", source="twitter", author=f"u{i}", followers=i,
                  customer_id=f"twitter:u{i}")
    return Facts(**{**fields, **kw})


def steady(start: float, minutes: int, per_minute: int, brand: str = "Belnet", first_id: int = 0) -> list[Facts]:
    """`per_minute` mentions a minute, every third negative."""
    out, i = [], first_id
    for m in range(minutes):
        for j in range(per_minute):
            i += 1
            out.append(facts(i, start + m * 60 + (j + 0.5) * 60 / per_minute,
                             "negative" if i % 3 == 0 else "neutral", brand=brand))
    return out


def run(events, cfg=CFG, *, serialise=False, state=None):
    detector, state = Detector(cfg), state or BrandState("Belnet")
    alerts = []
    for f in events:
        alerts += detector.observe(state, f)
        if serialise:  # what the Faust wiring does between two events
            state = BrandState.from_json(json.loads(json.dumps(state.to_json())))
    return alerts, state


def burst(start: float, seconds: int, per_minute: float, first_id: int = 10_000, topic: str = "storing"):
    n = int(seconds * per_minute / 60)
    return [facts(first_id + k, start + (k + 0.5) * 60 / per_minute, topics=(topic,)) for k in range(n)]


def merged(*streams):
    return sorted((f for s in streams for f in s), key=lambda f: f.ts)


# ------------------------------------------------------------------ negative_surge lifecycle
def test_steady_stream_raises_nothing():
    alerts, state = run(steady(T0, 240, 4))
    assert alerts == [] and state.late == 0
    assert state.units["*"].baseline.negative.level == pytest.approx(4 / 3, abs=0.3)


def test_burst_opens_once_within_30s_updates_and_resolves():
    base = steady(T0, 150, 4)
    start = T0 + 60 * 60 + 5
    events = merged(base, burst(start, 600, 30))
    alerts, state = run(events, serialise=True)
    surge = [a for a in alerts if a.kind is AlertKind.negative_surge]
    assert [a.status for a in surge][0] is AlertStatus.open
    assert [a.status for a in surge].count(AlertStatus.open) == 1
    opened = surge[0]
    assert 0 <= opened.opened_at.timestamp() - start <= 30
    assert opened.topic == "storing" and opened.severity == 2
    assert opened.evidence["signal"]["negative"] >= CFG.min_count
    assert opened.evidence["examples"] and opened.evidence["links"]
    updates = [a for a in surge if a.status is AlertStatus.update]
    assert updates and updates[-1].severity == 3
    assert all(u.updated_at.timestamp() <= start + 600 for u in updates)
    assert surge[-1].status is AlertStatus.resolved
    assert start + 600 < surge[-1].resolved_at.timestamp() < start + 600 + 15 * 60
    assert [a.sequence for a in surge] == list(range(len(surge)))
    assert len({a.id for a in surge}) == 1 and not state.incidents


def test_the_baseline_does_not_learn_the_surge():
    base = steady(T0, 150, 4)
    _, quiet = run(base)
    _, loud = run(merged(base, burst(T0 + 3605, 600, 30)))
    assert loud.units["*"].baseline.negative.level == pytest.approx(quiet.units["*"].baseline.negative.level,
                                                                    rel=0.25)


def test_out_of_order_within_the_lateness_gives_the_same_episode():
    base = steady(T0, 150, 4)
    start = T0 + 60 * 60 + 5
    ordered = merged(base, burst(start, 600, 30))
    rng = random.Random(3)
    shuffled = sorted(ordered, key=lambda f: f.ts + rng.uniform(0, 90))  # up to 90 s out of order
    a, _ = run(ordered)
    b, state = run(shuffled)
    assert state.late == 0 and state.max_lag > 30
    opens = [x for x in b if x.status is AlertStatus.open]
    assert len(opens) == 1 and opens[0].brand == "Belnet"
    assert abs(opens[0].opened_at.timestamp() - a[0].opened_at.timestamp()) <= 30
    assert [x.status for x in b][-1] is AlertStatus.resolved
    assert b[-1].resolved_at == a[-1].resolved_at  # closed minutes are the same whatever the arrival order


def test_too_late_mentions_are_counted_as_late_not_in_windows():
    events = steady(T0, 20, 4)
    alerts, state = run(events + [facts(99_999, T0 + 60)])  # 19 minutes late
    assert state.late == 1 and alerts == []


def test_cooldown_suppresses_a_flapping_surge_then_lets_a_new_one_open():
    cfg = CrisisSettings(cooldown_seconds=1800)
    base = steady(T0, 300, 4)
    first = burst(T0 + 3605, 300, 30)
    again = burst(T0 + 3605 + 1500, 120, 30, first_id=20_000)  # soon after the resolve
    later = burst(T0 + 3605 + 9000, 120, 30, first_id=30_000)  # long after
    alerts, state = run(merged(base, first, again, later), cfg)
    opens = [a for a in alerts if a.status is AlertStatus.open]
    resolved = [a for a in alerts if a.status is AlertStatus.resolved]
    assert resolved[0].resolved_at.timestamp() < T0 + 3605 + 1500  # the flap came after the first resolve
    assert len(opens) == 2 and state.suppressed > 0
    assert opens[1].opened_at.timestamp() >= T0 + 3605 + 9000
    assert opens[0].id != opens[1].id


def test_a_negative_share_jump_opens_even_when_volume_stays_usual():
    cfg = CrisisSettings(min_ratio=50)  # volume alone cannot fire
    base = steady(T0, 120, 30)  # 10 negative and 20 neutral a minute
    flip = [facts(50_000 + k, T0 + 120 * 60 + k * 2, "negative") for k in range(30)]  # all negative
    calm = steady(T0 + 121 * 60, 30, 30, first_id=60_000)
    alerts, _ = run(merged(base, flip, calm), cfg)
    opened = [a for a in alerts if a.status is AlertStatus.open]
    assert len(opened) == 1 and opened[0].evidence["signal"]["test"] == "share"


# ------------------------------------------------------------------ severe_mention and repeated negativity
def test_severe_mentions_open_group_update_and_resolve_when_quiet():
    cfg = CrisisSettings(severe_update_interval_seconds=60, severe_resolve_after_minutes=30)
    base = steady(T0, 120, 2)
    threats = [facts(70_000 + k, T0 + 600 + k * 20, severity=3, flags=("legal_threat",)) for k in range(3)]
    safety = [facts(80_000, T0 + 650, severity=3, flags=("safety", "press"))]
    alerts, state = run(merged(base, threats, safety, threats[:1]), cfg)  # the last one is a replay
    severe = [a for a in alerts if a.kind is AlertKind.severe_mention]
    legal = [a for a in severe if a.topic == "legal_threat"]
    assert [a.status for a in legal] == [AlertStatus.open, AlertStatus.update, AlertStatus.resolved]
    assert legal[0].severity == 3 and legal[0].mention_ids == ["twitter:70000"]
    assert legal[1].mention_ids == [f"twitter:{70_000 + k}" for k in range(3)]
    assert legal[2].resolved_at.timestamp() == pytest.approx(T0 + 640 + 30 * 60)
    assert [a.status for a in severe if a.topic == "safety"][0] is AlertStatus.open
    assert not state.incidents


def test_repeated_negativity_opens_updates_on_a_new_site_and_resolves():
    cfg = CrisisSettings(repeat_resolve_after_hours=1)
    base = steady(T0, 200, 2)
    story = [facts(90_000, T0 + 600, repeated_sources=("facebook", "twitter")),
             facts(90_001, T0 + 700, repeated_sources=("facebook", "review_site", "twitter"), followers=20_000),
             facts(90_002, T0 + 800, repeated_sources=("facebook", "forum", "review_site", "twitter"))]
    story = [Facts(**{**f.__dict__, "customer_id": "klant-1"}) for f in story]
    alerts, _ = run(merged(base, story), cfg)
    rep = [a for a in alerts if a.kind is AlertKind.repeated_negativity_spreading]
    assert [a.status for a in rep] == [AlertStatus.open, AlertStatus.update, AlertStatus.resolved]
    assert rep[0].topic == "klant-1" and rep[0].severity == 2  # 20k followers
    assert rep[1].evidence["sites"] == ["facebook", "forum", "review_site", "twitter"]


# ------------------------------------------------------------------ the synthetic streams
@pytest.fixture(scope="module")
def burst_stream():
    spec = BurstSpec("Belnet", start_offset=timedelta(minutes=60), duration=timedelta(minutes=10),
                     rate_per_minute=40.0, topic="storing")
    return spec, classify([m for m, _ in generate(30 * 100 + 400, seed=11, rate_per_minute=30.0, burst=spec)])


def test_synthetic_burst_is_detected_within_30s_and_nothing_else_fires(burst_stream):
    spec, mentions = burst_stream
    replay = Replay(CFG)
    replay.feed(mentions)
    replay.finish(3600)
    opens = [a for a in replay.alerts if a.status is AlertStatus.open]
    assert len(opens) == 1 and opens[0].brand == "Belnet" and opens[0].topic == "storing"
    delay = (opens[0].opened_at - (DEFAULT_START + spec.start_offset)).total_seconds()
    assert 0 <= delay <= 30, delay
    assert replay.alerts[-1].status is AlertStatus.resolved


def test_a_day_of_daily_variation_raises_nothing():
    mentions = classify([m for m, _ in generate(7200, seed=6, rate_per_minute=8.0, rate_profile=daily_profile())])
    assert mentions[-1].created_at - mentions[0].created_at > timedelta(hours=23)
    replay = Replay(CFG)
    replay.feed(mentions)
    assert replay.alerts == []


def test_facts_from_a_classified_mention(burst_stream):
    _, mentions = burst_stream
    m = next(m for m in mentions if "#belnetstoring" in m.text.lower() and m.brand == "Belnet")
    f = Facts.from_mention(m, CFG)
    assert f.brand == "Belnet" and f.ts == m.created_at.timestamp() and "#belnetstoring" in f.topics
    assert f.sentiment == m.sentiment.value and f.repeated_sources == ()


def test_snapshot_shows_the_windows_by_sentiment():
    base = steady(T0, 60, 4)
    _, state = run(merged(base, burst(T0 + 3000, 60, 30)))
    snap = Detector(CFG).snapshot(state)
    brand = snap["units"]["*"]
    assert set(brand["detect_window"]) == {"negative", "neutral", "positive"}
    assert brand["hop_window"]["negative"] >= brand["current_minute"]["negative"] >= 0
    assert snap["open_alerts"] and snap["units"]["storing"]["detect_window"]["negative"] >= 0
    assert json.dumps(snap)
