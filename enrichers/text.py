"""Text helpers every enricher shares: fold, tokenise, and match a small lexicon. Pure.

Social posts are typo-ridden, stretched ("kuttttt"), leetspeak'd ("k4nker") and mixed
with emoji, so matching works on folded tokens: lowercase, accents removed, URLs /
e-mail addresses / @handles dropped, runs of three or more equal letters squeezed, and
digits inside words read as letters. A lexicon entry is a word, a phrase of words, or a
word prefix ending in `*` ("kanker*" matches "kankerbedrijf").
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

URL_RE = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)
HANDLE_RE = re.compile(r"(?<!\w)@\w+")
# Pictographs, dingbats, arrows, symbols and flags; enough to tell "has emoji" and strip them.
EMOJI_RE = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u2bff\U0001F000-\U0001FAFF\U0001F1E6-\U0001F1FF]")
EMOTICON_RE = re.compile(r"(?<!\w)(?:[:;=8][-o^']?[)(dpDP/\\|*]+|<3+|xd+)(?!\w)", re.IGNORECASE)
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SQUEEZE_RE = re.compile(r"([^\W\d_])\1{2,}")
_DOUBLE_RE = re.compile(r"([^\W\d_])\1+")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD_RE = re.compile(r"(?<![\w@$])[\w@$]*[a-z][\w@$]*(?![\w@$])")


def fold(text: str) -> str:
    """Lowercase, accents off, typographic apostrophes plain."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u2018", "'"))
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def strip_addresses(text: str) -> str:
    """URLs, e-mail addresses and @handles say nothing about the words of a post."""
    return HANDLE_RE.sub(" ", URL_RE.sub(" ", text))


def _deleet(word: str) -> str:
    # only words that mix letters and digits ("k4nker", "sh1t"); plain numbers stay numbers
    if any(c.isdigit() or c in "@$" for c in word) and any(c.isalpha() for c in word):
        return word.translate(_LEET)
    return word


def tokens(text: str) -> list[str]:
    """Folded word tokens, addresses removed, stretched letters squeezed, leetspeak read."""
    return list(_tokens_and_keys(text)[0])


# Pure and asked for again and again: every lexicon (profanity, severity, tone, each reply topic)
# looks through the same post, so each post is tokenised once.
@lru_cache(maxsize=4096)
def _tokens_and_keys(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    folded = fold(strip_addresses(text))
    folded = _LEET_WORD_RE.sub(lambda m: _deleet(m.group(0)), folded)
    toks = tuple(_SQUEEZE_RE.sub(r"\1\1", w) for w in WORD_RE.findall(folded))
    return toks, tuple(key(t) for t in toks)


def key(word: str) -> str:
    """Matching key: doubled letters single, so "shiiit", "klooootzak" meet "shit", "klootzak"."""
    return _DOUBLE_RE.sub(r"\1", word)


def emoji_in(text: str) -> list[str]:
    return EMOJI_RE.findall(text) + [m.group(0) for m in EMOTICON_RE.finditer(text)]


@dataclass(frozen=True, slots=True)
class Match:
    term: str  # the lexicon entry as written
    category: str
    found: str  # the words in the text that matched


class Lexicon:
    """Words, phrases and `prefix*` entries, each with a category; longest match wins."""

    def __init__(self, entries: Mapping[str, str]):
        self._index: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        self._prefixes: list[tuple[str, str, str]] = []
        for term, category in entries.items():
            words = tuple(key(w) for w in tokens(term.rstrip("*")))
            if not words:
                continue
            if term.endswith("*") and len(words) == 1:
                self._prefixes.append((words[0], term, category))
            else:
                self._index.setdefault(words[0], []).append((words[1:], term, category))
        for options in self._index.values():
            options.sort(key=lambda o: -len(o[0]))

    def find(self, words: Iterable[str] | str) -> list[Match]:
        """Every entry found in `words` (a text or its tokens), left to right, no overlaps."""
        if isinstance(words, str):
            toks, keys = _tokens_and_keys(words)
        else:
            toks = tuple(words)
            keys = tuple(key(t) for t in toks)
        found: list[Match] = []
        i = 0
        while i < len(toks):
            hit = self._match_at(keys, i)
            if hit is None:
                i += 1
                continue
            length, term, category = hit
            found.append(Match(term, category, " ".join(toks[i:i + length])))
            i += length
        return found

    def _match_at(self, toks: tuple[str, ...], i: int) -> tuple[int, str, str] | None:
        for rest, term, category in self._index.get(toks[i], ()):
            if toks[i + 1:i + 1 + len(rest)] == rest:
                return 1 + len(rest), term, category
        for prefix, term, category in self._prefixes:
            if toks[i].startswith(prefix):
                return 1, term, category
        return None
