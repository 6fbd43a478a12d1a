"""should_respond / respond_by / respond_rule, in business hours."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from enrichers.respond import BusinessHours, RespondConfig, decide

FRI_2130_AMS = datetime(2026, 11, 27, 20, 30, tzinfo=timezone.utc)  # 21:30 in Amsterdam (CET)
WED_1000_AMS = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def _decide(**kw):
    base = {"created_at": WED_1000_AMS, "channel": "own", "type": "question", "severity": 0, "negative": False, "followers": 10,
                "repeated_negativity": False, "abusive": False}
    return decide(**{**base, **kw})


def test_own_channel_always_and_questions_within_24_hours():
    d = _decide()
    assert d.should_respond and d.rule == "own_channel_question"
    assert d.respond_by == WED_1000_AMS + timedelta(hours=24)
    compliment = _decide(type="compliment", negative=False)
    assert compliment.should_respond and compliment.respond_by == WED_1000_AMS + timedelta(hours=48)


def test_complaints_are_due_faster_by_severity():
    due = [_decide(type="complaint", negative=True, severity=s).respond_by - WED_1000_AMS for s in (0, 1, 2, 3)]
    assert due == [timedelta(hours=h) for h in (8, 4, 2, 1)]
    assert _decide(type="complaint", negative=True, severity=3).rule == "severity_3_escalate"


@pytest.mark.parametrize("kw, should, rule", [
    ({"severity": 1, "type": "complaint", "negative": True}, False, "third_party_not_warranted"),
    ({"severity": 2, "type": "complaint", "negative": True}, True, "third_party_severity"),
    ({"severity": 1, "type": "complaint", "negative": True, "repeated_negativity": True}, True,
     "third_party_repeated_negativity"),
    ({"severity": 0, "followers": 50_000}, True, "third_party_reach"),
    ({"severity": 3, "type": "complaint", "negative": True}, True, "severity_3_escalate"),
])
def test_third_party_sites_only_when_it_matters(kw, should, rule):
    d = _decide(channel="third_party", **kw)
    assert (d.should_respond, d.rule) == (should, rule)
    assert (d.respond_by is not None) == should


def test_abusive_posts_are_moderated_not_answered():
    d = _decide(type="complaint", negative=True, severity=1, abusive=True)
    assert not d.should_respond and d.rule == "abusive_moderate" and d.respond_by is None


def test_business_hours_stop_the_clock():
    hours = BusinessHours.parse("08:00-22:00", "mon-fri")
    # Friday 21:30: half an hour left, then Monday from 08:00
    assert hours.add(FRI_2130_AMS, 4) == datetime(2026, 11, 30, 10, 30, tzinfo=timezone.utc)
    assert hours.add(FRI_2130_AMS, 24) == datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    cfg = RespondConfig(business_hours=hours)
    d = decide(created_at=FRI_2130_AMS, channel="own", type="question", severity=0, negative=False, followers=0,
               repeated_negativity=False, abusive=False, cfg=cfg)
    assert d.respond_by == datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
    # severity 3 is escalated on the wall clock, business hours or not
    urgent = decide(created_at=FRI_2130_AMS, channel="own", type="complaint", severity=3, negative=True, followers=0,
                    repeated_negativity=False, abusive=False, cfg=cfg)
    assert urgent.respond_by == FRI_2130_AMS + timedelta(hours=1)
    assert BusinessHours.parse("09:00-17:00", "sat-mon").days == frozenset({5, 6, 0})
