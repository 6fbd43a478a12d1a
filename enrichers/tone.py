"""Tone: formal ("u", "uw", "Geachte", "Dear", "Kind regards") or informal ("je", "jij",
emoji, slang, "hey"), so a reply can mirror it (webcare practice: "spiegel de klant").

Each cue adds weight to one side; the larger side wins when it leads by a margin,
otherwise the tone is "unknown" (and a reply falls back to the brand's default).
Dutch "u" is formal but English texting "u" ("thank u") is informal: the language
decides which reading applies. Emoji, emoticons, "!!!" and stretched words ("heeel")
count as informal; the markers that decided are returned for the reply to mirror.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from enrichers.text import Lexicon, emoji_in

FORMAL = "formal"
INFORMAL = "informal"
MARGIN = 1.0  # the winning side must lead by this much

_CUES: dict[str, dict[str, float]] = {
    "nl": {
        "u": 2.0, "uw": 2.0, "geachte": 3.0, "met vriendelijke groet": 3.0, "met vriendelijke groeten": 3.0,
        "hoogachtend": 3.0, "mvg": 1.5, "geachte heer": 3.0, "geachte mevrouw": 3.0, "beste heer": 2.5,
        "beste mevrouw": 2.5, "zou u": 2.0, "kunt u": 2.0, "wilt u": 2.0, "gaarne": 2.0, "bij voorbaat dank": 2.0,
        "je": -1.5, "jij": -2.0, "jou": -1.5, "jouw": -2.0, "jullie": -0.5, "hoi": -2.0, "hey": -2.0, "hee": -2.0,
        "ff": -2.0, "effe": -2.0, "ofzo": -1.5, "gwn": -2.0, "egt": -2.0, "nie": -1.5, "wrm": -2.0, "mss": -1.5,
        "lol": -2.0, "haha*": -2.0, "wtf": -2.0, "kut*": -2.0, "gast": -1.5, "mn": -1.5, "m'n": -1.0, "zn": -1.5,
        "julie": -1.5, "tog": -1.5, "idd": -1.5, "toppie": -2.0, "vet": -1.0, "doei": -2.0, "thx": -2.0,
    },
    "en": {
        "dear": 3.0, "sir": 2.0, "madam": 2.5, "kind regards": 3.0, "regards": 2.0, "sincerely": 3.0,
        "yours faithfully": 3.0, "i would like to": 1.5, "could you please": 1.5, "would you kindly": 2.5, "kindly": 2.0,
        "i would appreciate": 2.0, "please advise": 2.0,
        "hey": -2.0, "hi guys": -2.0, "u": -2.0, "ur": -2.0, "r": -1.0, "pls": -2.0, "plz": -2.0, "thx": -2.0,
        "ty": -1.5, "lol": -2.0, "omg": -2.0, "wtf": -2.0, "gonna": -1.5, "wanna": -1.5, "gotta": -1.5,
        "dude": -2.0, "mate": -1.0, "cuz": -2.0, "tbh": -2.0, "ngl": -2.0, "rly": -2.0, "sux": -2.0, "yall": -2.0,
        "y'all": -2.0, "haha*": -2.0, "im": -1.0, "dont": -1.0, "cant": -1.0, "tmrw": -2.0, "ppl": -1.5,
    },
}
_LEXICONS = {lang: Lexicon({term: lang for term in cues}) for lang, cues in _CUES.items()}
_EXCLAIM_RE = re.compile(r"[!?]{3,}")
_STRETCH_RE = re.compile(r"([a-zA-Z])\1{2,}")


@dataclass(frozen=True, slots=True)
class ToneGuess:
    formality: str  # "formal" | "informal" | "unknown"
    emoji: bool
    markers: list[str]
    score: float  # > 0 formal, < 0 informal


def detect_tone(text: str, language: str | None = None) -> ToneGuess:
    langs = [language] if language in _CUES else list(_CUES)
    formal = informal = 0.0
    markers: list[str] = []
    for lang in langs:
        for match in _LEXICONS[lang].find(text):
            weight = _CUES[lang][match.term]
            if weight > 0:
                formal += weight
            else:
                informal -= weight
            markers.append(match.found)
    emoji = emoji_in(text)
    if emoji:
        informal += 1.5
        markers.extend(emoji[:3])
    if _EXCLAIM_RE.search(text):
        informal += 1.0
        markers.append("!!!")
    if stretched := _STRETCH_RE.search(text):
        informal += 1.0
        markers.append(stretched.group(0))
    score = formal - informal
    formality = FORMAL if score >= MARGIN else INFORMAL if score <= -MARGIN else "unknown"
    return ToneGuess(formality, bool(emoji), list(dict.fromkeys(markers))[:8], round(score, 2))
