"""Tone: formal vs informal, so replies can mirror it; Dutch and English, emoji, slang, typos."""
from __future__ import annotations

import pytest

from enrichers.tone import detect_tone


@pytest.mark.parametrize("text, language, formality", [
    ("Geachte heer/mevrouw, kunt u mij laten weten waar mijn pakket blijft? Met vriendelijke groet, Henk", "nl",
     "formal"),
    ("Kunt u mij helpen met uw app?", "nl", "formal"),
    ("hoi, waar blijft mn pakkie nou ff?? 😡", "nl", "informal"),
    ("Kun je me helpen? Jouw app doet raar", "nl", "informal"),
    ("egt nie normaal dit julie, gwn weer vertraagd!!!", "nl", "informal"),  # slang + typos
    ("Dear PakjePost, I would like to know when my parcel arrives. Kind regards", "en", "formal"),
    ("omg thank u soooo much 😍😍", "en", "informal"),  # "u" is informal in English
    ("hey guys, pls fix ur app tbh", "en", "informal"),
    ("Waar blijft mijn pakket?", "nl", "unknown"),
    ("Where is my parcel?", "en", "unknown"),
])
def test_formality(text, language, formality):
    assert detect_tone(text, language).formality == formality


def test_emoji_and_markers_are_reported_for_mirroring():
    tone = detect_tone("Top service 👍🙂 dankjewel!", "nl")
    assert tone.emoji and "👍" in tone.markers
    assert not detect_tone("Geachte heer, dank u.", "nl").emoji
    assert detect_tone("Geachte heer, dank u.", "nl").markers == ["geachte heer", "u"]


def test_without_a_language_both_cue_sets_apply():
    assert detect_tone("Geachte heer, met vriendelijke groet").formality == "formal"
    assert detect_tone("lol wtf 😂").formality == "informal"
