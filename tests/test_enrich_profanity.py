"""Profanity and abuse flags for moderation: Dutch and English, stretched, leetspeak, emoji."""
from __future__ import annotations

import pytest

from enrichers.profanity import check_profanity, moderation


@pytest.mark.parametrize("text, terms, abusive", [
    ("Wat een kutbedrijf zeg, alweer te laat", ["kutbedrijf"], False),  # informal swearing: mild
    ("Kankerlijers jullie 🤬🤬", ["kankerlijers"], True),  # Dutch disease curse: abusive
    ("TYFUSZOOI!!! ik maak je af", ["tyfuszooi", "ik maak je af"], True),
    ("klooooootzakken bij de klantenservice", ["klootzakken"], True),  # stretched letters
    ("What the f*ck, fucking late again 😡", ["f ck", "fucking"], False),
    ("you absolute m0r0n", ["moron"], True),  # leetspeak
    ("Dear Sir, your staff are idiots and I know where you live.", ["idiots", "i know where you live"], True),
    ("Geachte heer, mijn pakket is beschadigd aangekomen.", [], False),
    ("Bombay flights are great, hello from Scunthorpe", [], False),  # no substring false alarms
])
def test_flags_terms_and_tells_abuse_from_swearing(text, terms, abusive):
    result = check_profanity(text)
    assert result.terms == terms
    assert result.abusive is abusive
    assert result.profane is bool(terms)


def test_moderation_deletes_only_abusive_posts_on_own_channels_and_says_why():
    abusive = check_profanity("Stelletje klootzakken")
    action, reason = moderation(abusive, own_channel=True)
    assert action == "delete" and "klootzakken" in reason and "insult" in reason
    assert moderation(abusive, own_channel=False)[0] == "report"  # not ours to delete
    mild = check_profanity("shit, weer vertraging")
    action, reason = moderation(mild, own_channel=True)
    assert action == "none" and "not abusive" in reason
    assert moderation(check_profanity("Dank u wel!"), own_channel=True) is None
