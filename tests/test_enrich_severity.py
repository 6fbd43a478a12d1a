"""Severity 0-3 with reasons: claims, legal threats, safety, data leaks, press, reach, repetition."""
from __future__ import annotations

import pytest

from enrichers.severity import SeverityConfig, assess_severity, text_signals, with_repeated_negativity


def _sev(text, *, negative=True, complaint=True, handle="klant", name=None, source="twitter", followers=50, **kw):
    signals = text_signals(text, source=source, handle=handle, display_name=name, followers=followers)
    return assess_severity(signals, negative=negative, complaint=complaint, **kw)


@pytest.mark.parametrize("text, level, reason", [
    ("Ik stap naar mijn advocaat als dit niet wordt opgelost!", 3, "legal threat"),
    ("mn advokaat gaat jullie aanklagen!!!", 3, "legal threat"),  # typo'd and informal
    ("Dear Sir, my lawyer will be in touch. Legal action follows.", 3, "legal threat"),
    ("De oplader vloog in brand 🔥 en mijn zoon is gewond", 3, "safety/health"),
    ("the charger caught fire, my kid got burned, off to hospital", 3, "safety/health"),
    ("Ik zie de gegevens van iemand anders in mijn account?!", 3, "data leak"),
    ("Your app shows someone else's data, this is a data breach", 3, "data leak"),
    ("Ik wil een schadevergoeding voor mijn kapotte tv", 2, "claim"),
    ("I want compensation for the damages", 2, "claim"),
    ("Waar blijft mijn pakket?", 1, "complaint"),
])
def test_text_rules(text, level, reason):
    sev = _sev(text)
    assert sev.level == level
    assert any(r.startswith(reason) for r in sev.reasons), sev.reasons


def test_praise_is_zero_and_reasons_name_the_words():
    assert _sev("Top service, dank jullie wel 😍", negative=False, complaint=False).level == 0
    assert "'schadevergoeding'" in " ".join(_sev("schadevergoeding!").reasons)


def test_press_and_reach_raise_negative_posts_only():
    press = _sev("pakket te laat", handle="anna_journalist", name="Anna | Redactie Dagblad")
    assert press.level == 2 and "press/journalist author" in press.reasons
    assert _sev("leuke actie", negative=False, complaint=False, source="news").level == 1
    assert _sev("pakket te laat", followers=20_000).level == 2
    assert _sev("pakket te laat", followers=250_000).level == 3
    assert _sev("love it", negative=False, complaint=False, followers=250_000).level == 0
    known = text_signals("x", source="twitter", handle="@Reporter_Jan", display_name=None, followers=1,
                         cfg=SeverityConfig(press_handles=frozenset({"reporter_jan"})))
    assert known.press


@pytest.mark.parametrize("text, question, level", [
    ("Nieuws: PakjePost wint prijs, geen enkel datalek in vijf jaar 🎉", False, 1),  # press praise: a note
    ("Great read on how airlines handle lawsuits and legal action", False, 1),
    ("Is deze oplader gevaarlijk als hij warm wordt?", True, 2),  # a safety question: today, not a page
])
def test_risk_words_in_posts_that_are_not_negative_do_not_page(text, question, level):
    sev = _sev(text, negative=False, complaint=False, question=question)
    assert sev.level == level
    assert any(r.endswith("(post not negative)") for r in sev.reasons), sev.reasons


def test_repeated_negativity_and_profanity():
    assert _sev("waardeloos", repeated_negativity=True).level == 2
    assert _sev("shit", negative=False, complaint=False, profane=True).level == 1
    raised = with_repeated_negativity(1, ["complaint"], True)
    assert raised.level == 2 and raised.reasons == ["complaint", "repeated negativity"]
    assert with_repeated_negativity(3, ["legal threat: 'advocaat'"], True).level == 3
    assert with_repeated_negativity(1, ["complaint"], False).level == 1
