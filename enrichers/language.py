"""Language of a mention, with lingua (accurate on short, informal text).

The detector is built once per process with only the languages webcare in the Low
Countries meets (building it with all 75 takes long and confuses short posts with
rare languages). Addresses, hashtags' "#", emoji and digits are removed first; what
is left decides. A post with too few letters to judge ("👍👍", "@PakjePost ?!")
keeps the connector's hint, or gets none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from enrichers.text import EMOJI_RE, EMOTICON_RE, strip_addresses

LANGUAGES = (Language.DUTCH, Language.ENGLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH, Language.TURKISH)
MIN_LETTERS = 3  # fewer letters than this: nothing to judge
MIN_CONFIDENCE = 0.6  # below this, a hint for a supported language wins over the guess
# Below MIN_CONFIDENCE and without a hint, a Dutch or English reading this close to the best
# wins: the stream is Dutch/English webcare, so "Bedankt!" is Dutch rather than German.
PREFERRED = ("nl", "en")
PREFERRED_RATIO = 0.5

_NOISE_RE = re.compile(r"[#\d_]+")


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    code: str | None  # ISO 639-1, e.g. "nl"
    confidence: float  # 0..1, lingua's relative confidence (1.0 for an accepted hint)
    method: str  # "detected", "hint", "none"


@lru_cache(maxsize=1)
def detector() -> LanguageDetector:
    # preloaded: lingua otherwise loads each language's models lazily, and the first texts that
    # need them pay ~8 ms each instead of ~0.8 ms (the worker builds this at start-up, off the loop)
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).with_preloaded_language_models().build()


def _clean(text: str) -> str:
    text = EMOTICON_RE.sub(" ", EMOJI_RE.sub(" ", strip_addresses(text)))
    return " ".join(_NOISE_RE.sub(" ", text).split())


# Pure, so remembered: the classifier and the enrich stage both ask about each mention's text (and
# a retweet repeats it); lingua is ~0.3-0.7 ms a text and holds the GIL meanwhile.
@lru_cache(maxsize=8192)
def detect_language(text: str, hint: str | None = None) -> LanguageGuess:
    hint_code = hint[:2].lower() if hint else None
    cleaned = _clean(text)
    if sum(c.isalpha() for c in cleaned) < MIN_LETTERS:
        return LanguageGuess(hint_code, 1.0, "hint") if hint_code else LanguageGuess(None, 0.0, "none")
    values = detector().compute_language_confidence_values(cleaned)
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    if best.value >= MIN_CONFIDENCE:
        return LanguageGuess(code, round(best.value, 3), "detected")
    by_code = {v.language.iso_code_639_1.name.lower(): v.value for v in values}
    if hint_code in by_code:
        return LanguageGuess(hint_code, round(by_code[hint_code], 3), "hint")
    preferred = max(PREFERRED, key=lambda c: by_code.get(c, 0.0))
    if by_code.get(preferred, 0.0) >= best.value * PREFERRED_RATIO:
        return LanguageGuess(preferred, round(by_code[preferred], 3), "detected")
    return LanguageGuess(code, round(best.value, 3), "detected")


def detect_languages(texts: list[str], hints: list[str | None]) -> list[LanguageGuess]:
    return [detect_language(t, h) for t, h in zip(texts, hints, strict=True)]
