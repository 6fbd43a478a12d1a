"""Language detection (lingua): Dutch and English, formal and informal, emoji and typos."""
from __future__ import annotations

import pytest

from enrichers.language import detect_language


@pytest.mark.parametrize("text, expected", [
    ("Geachte heer, mevrouw, graag ontvang ik uw reactie op mijn klacht.", "nl"),
    ("Waar blijft mijn pakket nou weer? Al drie dagen niks gehoord.", "nl"),
    ("hoi, mn pakkie is nog stees nie bezorgd wtf 😡😡", "nl"),  # slang, typos, emoji
    ("egt nie normaal dit julie, gwn 2 uur in de wacht", "nl"),
    ("Dear Sir or Madam, I would like to file a complaint about my delivery.", "en"),
    ("omg my parcel is sooo late again, thx for nothing 🙄", "en"),
    ("ur service sux tbh, pls fix it", "en"),
    ("Danke schön für die schnelle Lieferung, alles bestens", "de"),
    ("Merci beaucoup pour votre aide rapide", "fr"),
])
def test_detects_the_language_of_real_posts(text, expected):
    guess = detect_language(text)
    assert guess.code == expected, guess
    assert 0 <= guess.confidence <= 1 and guess.method == "detected"


def test_short_ambiguous_posts_lean_to_dutch_or_english():
    assert detect_language("Bedankt!").code == "nl"
    assert detect_language("Top service, dank jullie wel").code == "nl"
    assert detect_language("Thank you so much!").code == "en"


def test_no_letters_keeps_the_hint_or_says_none():
    assert detect_language("👍👍 @PakjePost https://x.nl", "nl-NL").code == "nl"
    assert detect_language("👍👍 @PakjePost https://x.nl", "nl-NL").method == "hint"
    none = detect_language("🙂🙂 !!")
    assert none.code is None and none.method == "none"


def test_handles_and_urls_do_not_decide():
    # an English handle and URL around a Dutch sentence
    assert detect_language("@HappyCustomerService check https://support.example.com/help pakket kapot aangekomen, "
                           "wat nu?").code == "nl"


def test_a_batch_gets_what_one_text_at_a_time_gets():
    """The batch path asks lingua for all new texts in one parallel call; same answers as one by one."""
    from classifiers.corpus import load_corpus
    from enrichers.language import _clean, _guess, detect_languages, detector

    examples = load_corpus()[:300]
    texts = [e.text + " ." for e in examples]  # not in the cache yet
    hints = [None if i % 3 else e.lang for i, e in enumerate(examples)]
    batch = detect_languages(texts, hints)
    one_by_one = []
    for text, hint in zip(texts, hints):
        cleaned = _clean(text)
        values = detector().compute_language_confidence_values(cleaned) \
            if sum(c.isalpha() for c in cleaned) >= 3 else None
        one_by_one.append(_guess(values, hint))
    assert batch == one_by_one
    assert {g.code for g in batch} >= {"nl", "en"}
