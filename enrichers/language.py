"""Language of a mention, with lingua (accurate on short, informal text).

The detector is built once per process with only the languages webcare in the Low
Countries meets (building it with all 75 takes long and confuses short posts with
rare languages). Addresses, hashtags' "#", emoji and digits are removed first; what
is left decides. A post with too few letters to judge ("👍👍", "@PakjePost ?!")
keeps the connector's hint, or gets none.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from core.lru import LRU
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
# a retweet repeats it). lingua holds the GIL while it works (~0.17 ms a text on one core); a batch's
# new texts go to it in one call that spreads them over the cores, which halves that time.
_RECENT: LRU[tuple[str, str | None], LanguageGuess] = LRU(8192)


def detect_language(text: str, hint: str | None = None) -> LanguageGuess:
    return detect_languages([text], [hint])[0]


def detect_languages(texts: Sequence[str], hints: Sequence[str | None]) -> list[LanguageGuess]:
    keys = list(zip(texts, hints, strict=True))
    known = _RECENT.get_many(keys)
    new = [k for k in dict.fromkeys(keys) if k not in known]
    if new:
        cleaned = {k: _clean(k[0]) for k in new}
        judged = [k for k in new if sum(c.isalpha() for c in cleaned[k]) >= MIN_LETTERS]
        if len(judged) > 1:
            values = detector().compute_language_confidence_values_in_parallel([cleaned[k] for k in judged])
        else:
            values = [detector().compute_language_confidence_values(cleaned[k]) for k in judged]
        by_key = dict(zip(judged, values, strict=True))
        fresh = [(k, _guess(by_key.get(k), k[1])) for k in new]
        known.update(fresh)
        _RECENT.put_many(fresh)
    return [known[k] for k in keys]


def _guess(values, hint: str | None) -> LanguageGuess:
    """The decision, from lingua's confidence values (None: too few letters to judge)."""
    hint_code = hint[:2].lower() if hint else None
    if values is None:
        return LanguageGuess(hint_code, 1.0, "hint") if hint_code else LanguageGuess(None, 0.0, "none")
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
