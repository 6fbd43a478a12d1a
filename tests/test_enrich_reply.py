"""Suggested replies: type x language x tone, ZEKEP, per-brand templates."""
from __future__ import annotations

import pytest
import yaml

from core.paths import PROJECT_ROOT
from enrichers.reply import MAX_CHARS, ReplyBook, first_name, suggest_reply

REPLIES = PROJECT_ROOT / "data" / "replies"


def _reply(book=None, **kw):
    base = {"text": "Waar blijft mijn pakket?", "type": "question", "language": "nl", "formality": "formal", "emoji": False,
                "display_name": "Sanne de Vries", "handle": "sannedv", "brand": "Belnet"}
    return suggest_reply(book or ReplyBook.load(REPLIES, "Belnet"), **{**base, **kw})


def test_greets_by_first_name_and_mirrors_formal_and_informal_dutch():
    formal = _reply()
    assert formal.startswith("Beste Sanne,") and " u" in formal and " je " not in formal
    informal = _reply(formality="informal", text="hoi waar blijft mn pakkie ff?? 🙄", emoji=True)
    assert informal.startswith("Hoi Sanne,") and " je" in informal and " uw " not in informal
    assert informal.endswith("🙂")  # emoji mirrored on a friendly answer


def test_english_and_standard_answers_for_common_problems():
    reply = _reply(language="en", formality="formal", text="Dear Sir, my parcel was never delivered", type="complaint")
    assert reply.startswith("Dear Sanne,") and "tracking code" in reply and "a DM" in reply
    assert "storingspagina" in _reply(text="Al 3 dagen een storing op mijn internet", type="complaint")


def test_complaints_offer_a_private_channel_and_replies_stay_short():
    for lang in ("nl", "en"):
        for tone in ("formal", "informal"):
            for type in ("complaint", "question", "suggestion", "compliment", "other"):
                text = _reply(language=lang, formality=tone, type=type, persona="quiet_lurker",
                              text="pakket vertraagd, storing, geld terug")
                assert len(text) <= MAX_CHARS
                if type == "complaint":
                    assert "DM" in text


@pytest.mark.parametrize("kw, expected", [
    ({"repeated_negativity": True, "type": "complaint"}, "elders"),
    ({"severity": 3, "type": "complaint"}, "verantwoordelijke afdeling"),
    ({"abusive": True, "type": "complaint"}, "verwijderd"),
    ({"persona": "brand_ambassador", "type": "compliment", "formality": "informal"}, "Mogen we je bericht delen?"),
])
def test_situations_and_personas(kw, expected):
    assert expected in _reply(**kw)


def test_brand_file_overrides_defaults(tmp_path):
    pakjepost = _reply(ReplyBook.load(REPLIES, "PakjePost"), brand="PakjePost", formality="unknown",
                       text="Mijn pakket ligt bij de buren?!", type="complaint")
    assert pakjepost.startswith("Hoi Sanne,")  # this brand says "je" when the tone is unknown
    assert "In de app zie je bij welk adres" in pakjepost and pakjepost.endswith("^Team PakjePost")
    (tmp_path / "default.yaml").write_text((REPLIES / "default.yaml").read_text())
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump({"private_channel": {"nl": "ons contactformulier"}}))
    assert "ons contactformulier" in _reply(ReplyBook.load(tmp_path, "Acme"), type="complaint")


def test_unknown_language_and_names():
    assert _reply(language=None).startswith("Beste")  # the default language (nl)
    assert _reply(language="de").startswith("Dear")  # other languages: English
    assert first_name(None, "@piet_01") == "@piet_01"
    assert first_name("🌷 Fleur B.", "fb") == "Fleur"
