"""Keyword/lexicon BASELINE classifier for message type and sentiment (Dutch and English).

`BaselineClassifier` ("baseline-lexicon", version "1"; `model_version` "baseline-lexicon-1") was
the pipeline's first, deliberately simple classifier. It is no longer the default: the
transformer (multilingual-e5-small + trained heads, classifiers/transformer.py, docs/model.md)
is. Nothing in it is trained: it sums hand-set weights of keyword and phrase cues from the
lexicons in classifiers/lexicon/, with a few rules (negation, intensifiers, "maar"/"but",
emoji), detailed below. Type: the highest normalised cue score, or `other` when no type reaches
`OTHER_THRESHOLD`. Sentiment: tanh of the summed signed sentiment weights (nudged by complaint /
compliment cues), neutral when |score| < `NEUTRAL_BAND`. What it is for now:
- the reference row: `luister eval` scores it on the same test split as the transformer
  (classifiers/reports/eval.md, row "baseline-lexicon-1") and `make bench` always runs it as a
  labelled bare-model row (docs/benchmarks.md);
- a light fallback, chosen by setting (nothing switches to it automatically): `classifier =
  "baseline"` (env `LUISTER_CLASSIFIER=baseline`, loaded by classifiers/registry.py); the test
  suite pins it for the end-to-end tests other than tests/test_model_pipeline.py.
It is pure (no I/O after construction; the same text and language hint always give the same
answer) and fast (tens of thousands of short texts per second on one core; about 40,000/s as
the bare-model row in docs/benchmarks.md).

Measured quality, macro-F1 on the 438-mention test split (classifiers/reports/eval.md, also the
"keyword baseline" row of docs/model.md, "Results"): type 0.540 (nl 0.490, en 0.587), sentiment
0.578 (nl 0.602, en 0.553), against the default transformer's 0.868 / 0.884. On the bundled
synthetic sample (data/sample, type labels only) its type macro-F1 is 0.664 (docs/model.md;
"F1 0.67" in docs/benchmarks.md). Use it where a rough label is acceptable, not as a
substitute for the model's quality.

What it does, per text:
1. Normalise: Unicode NFD with accents (combining marks), emoji variation selectors, skin-tone
   modifiers and zero-width joiners removed; typographic apostrophes made plain; URLs,
   e-mail addresses and @mentions dropped ("#" of hashtags is dropped, the word is kept).
2. Tokenise with one regex into emoticons (":)", ":-(", "<3"; repeated final characters allowed),
   single emoji, words and the punctuation marks . , ; : ! ?  Each word is lowercased; runs of
   3+ equal letters are collapsed ("slechttt" -> "slecht", "heeeel" -> "heel") when that makes
   a lexicon word; digits and number words ("vier", "three") become "<num>"; a few lexicon
   entries are prefixes ("kut*" matches "kutbedrijf"). Token resolution is cached.
3. Match lexicon entries (words and phrases up to a few tokens, longest match first) from
   `classifiers/lexicon/{nl,en}.json`:
   - type cues add weight to complaint / question / suggestion / compliment; "?" is a question
     cue, an imperative "voeg ... toe" / "please add" a suggestion cue. A repeated cue counts
     fully the first time, 0.3 the second, then no more. A compliment cue after a negator
     ("niet tevreden") counts for complaint instead; a negated complaint cue ("niet slecht")
     counts at 0.3.
   - sentiment words add signed weight, multiplied by an intensifier or softener
     ("heel", "very", "beetje") up to two tokens before, by 1.3 when written in CAPITALS, and
     flipped by a negator up to three tokens before (no clause break in between): a negated
     positive becomes negative (x -0.75), a negated negative becomes mildly positive (x -0.5),
     so "niet goed" is negative and "not bad" is not. Sentiment before "maar"/"but" is halved.
     Emoji and emoticons carry their own weight and are never negated or intensified.
4. Type: `other` competes as a pseudo-class with a fixed score `OTHER_THRESHOLD`; each type's
   raw score (cues, plus 0.3 x the negative resp. positive sentiment mass for complaint resp.
   compliment) is normalised as s / (sum of all type scores + OTHER_THRESHOLD), so the five
   `type_scores` are in [0, 1] and sum to 1. The highest wins; `other` wins when no type
   reaches the threshold.
5. Sentiment: score = tanh((sentiment sum x exclamation boost + pull) / 2), where the pull is
   -0.25 x complaint cue score and +0.25 x compliment cue score (each capped at 4), so complaint
   evidence nudges negative and compliment evidence nudges positive. |score| < 0.2 is neutral.

Language: the hint's first two letters pick the lexicon ("nl" or "en"); any other or missing
hint uses both lexicons merged (code-switching is common in Dutch webcare). Emoji and
emoticons apply for every language.

Known weaknesses (it is a baseline; judge the transformer against it by macro-F1):
- Sarcasm and irony ("Geweldig, wéér vertraging 👏", "thanks for nothing") read as praise unless a
  lexicon phrase happens to cover them.
- Rhetorical questions inside complaints ("Waarom duurt dit zo lang?") get question weight from
  the "?"; mixed messages (a question in a complaint) get one label only.
- Negation is a fixed left-hand window: Dutch verb-final negation ("dat vind ik goed, niet"),
  double negation and scope across clauses are missed; "niet alleen ... maar ook" is
  mis-scoped.
- Bag of cues, no syntax: imperatives without a cue word, polite requests ("kunnen jullie ...")
  that are really suggestions or complaints, and descriptive complaints without any emotional
  or cue word ("Mijn pakket ligt bij de buren van drie straten verder") are missed.
- Dutch compounds are only partly covered (a few prefix entries); spelling variants outside
  the lexicon, other languages (German, French, Papiamento...) and slang drift are not.
- Neutral news or chatter that contains a praise or blame word ("Beste film van het jaar") can
  be pulled towards compliment/complaint.
- Scores are heuristic weights, not calibrated probabilities.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

from classifiers.base import Classification, Classifier
from schemas import MessageType, Sentiment

__all__ = ["BaselineClassifier", "OTHER_THRESHOLD", "NEUTRAL_BAND"]

# `other` wins when no type's raw cue score reaches this.
OTHER_THRESHOLD = 1.0
# |sentiment_score| below this is neutral.
NEUTRAL_BAND = 0.2

_TYPES = (MessageType.complaint, MessageType.question, MessageType.suggestion, MessageType.compliment)
_COMPLAINT, _QUESTION, _SUGGESTION, _COMPLIMENT = range(4)
_NUM = "<num>"
_NEG_WINDOW = 3  # a negator flips a sentiment word up to this many tokens later
_INTENS_WINDOW = 2  # an intensifier scales a sentiment word up to this many tokens later
_REPEAT_FACTOR = 0.3  # the second occurrence of a cue in one text counts this much; later ones not
_SENTIMENT_TO_TYPE = 0.3  # negative/positive sentiment mass added to complaint/compliment
_TYPE_TO_SENTIMENT = 0.25  # complaint/compliment cue mass pulling the sentiment
_PULL_CAP = 4.0
_SENTIMENT_SCALE = 2.0
_CACHE_MAX = 200_000

_URL_RE = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+|(?<!\w)@\w+", re.IGNORECASE)
# Combining marks (accents, U+FE0F variation selector), skin-tone modifiers, zero-width joiner.
_STRIP_RE = re.compile("[\u0300-\u036f\ufe0e\ufe0f\u200d\U0001F3FB-\U0001F3FF]")
_EMOJI_CLASS = "[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u2bff\U0001F000-\U0001FAFF]"
_WORD = r"[^\W_]+(?:'[^\W_]+)*"
_PUNCT = r"[?!.,;:]"
_PLAIN_TOKEN_RE = re.compile(f"{_EMOJI_CLASS}|{_WORD}|{_PUNCT}")
_REPEAT_RE = re.compile(r"(.)\1{2,}")
_REPEAT_ANY_RE = re.compile(r"(.)\1+")


def _fold(text: str) -> str:
    """NFD, drop accents/variation selectors/skin tones/ZWJ, plain apostrophes."""
    if not text.isascii():
        text = _STRIP_RE.sub("", unicodedata.normalize("NFD", text)).replace("\u2019", "'").replace("\u2018", "'")
    return text


class _Bundle:
    """One language's (or the merged) lexicon, indexed for matching."""

    __slots__ = ("type_index", "sent_index", "negators", "intensifiers", "breaks", "contrast")

    def __init__(self) -> None:
        # first token -> [(rest tokens, ((type index, weight), ...)), ...], longest first
        self.type_index: dict[str, list[tuple[list[str], tuple[tuple[int, float], ...]]]] = {}
        # first token -> [(rest tokens, weight, negatable), ...], longest first
        self.sent_index: dict[str, list[tuple[list[str], float, bool]]] = {}
        self.negators: frozenset[str] = frozenset()
        self.intensifiers: dict[str, float] = {}
        self.breaks: frozenset[str] = frozenset()
        self.contrast: frozenset[str] = frozenset()


class BaselineClassifier(Classifier):
    """Weighted keyword/lexicon classifier: message type and sentiment, Dutch and English."""

    name = "baseline-lexicon"
    version = "1"

    def __init__(self, lexicons: dict[str, dict[str, Any]] | None = None) -> None:
        """Load `classifiers/lexicon/{nl,en}.json` once (or use the given parsed lexicons)."""
        if lexicons is None:
            lexicons = {lang: _load_packaged(lang) for lang in ("nl", "en")}
        self._cache: dict[str, str] = {}
        self._numbers: frozenset[str] = frozenset(
            w for lex in lexicons.values() for w in (_fold(x).lower() for x in lex.get("numbers", ()))
        )
        self._emoji: dict[str, float] = {}
        self._emoji_types: dict[str, dict[str, float]] = {}
        for lex in lexicons.values():
            self._emoji.update({self._emoji_key(k): float(v) for k, v in lex.get("emoji", {}).items()})
            for t, cues in lex.get("emoji_types", {}).items():
                self._emoji_types.setdefault(t, {}).update({self._emoji_key(k): float(v) for k, v in cues.items()})
        self._emoji_keys = frozenset(self._emoji) | frozenset(k for c in self._emoji_types.values() for k in c)
        # emoticons (":)", "<3", ...) get their own alternatives, longest first, final character repeatable
        emoticons = sorted((k for k in self._emoji_keys if not re.fullmatch(f"{_EMOJI_CLASS}+|{_WORD}", k)), key=len, reverse=True)
        emoticon_alt = "|".join(re.escape(e) + re.escape(e[-1]) + "*" for e in emoticons) or "(?!)"
        self._token_re = re.compile(
            rf"(?<![:;=<>^])(?:{emoticon_alt})(?!\w)|{_EMOJI_CLASS}|{_WORD}|{_PUNCT}", re.IGNORECASE
        )
        self._bundles = {lang: self._build([lex]) for lang, lex in lexicons.items()}
        self._both = self._build(list(lexicons.values()))
        self._vocab: set[str] = set()
        for b in [*self._bundles.values(), self._both]:
            self._vocab.update(b.type_index, b.sent_index, b.negators, b.intensifiers, b.breaks)
        self._prefixes: dict[str, str] = {k[:-1]: k for k in self._vocab if k.endswith("*") and len(k) > 3}
        self._max_prefix = max((len(p) for p in self._prefixes), default=0)

    # --- public API -------------------------------------------------------------------------

    def classify_batch(self, texts: Sequence[str], languages: Sequence[str | None]) -> list[Classification]:
        if len(texts) != len(languages):
            raise ValueError(f"got {len(texts)} texts but {len(languages)} language hints")
        return [self._classify_one(t, lang) for t, lang in zip(texts, languages)]

    # --- construction -----------------------------------------------------------------------

    @staticmethod
    def _emoji_key(key: str) -> str:
        """An emoji/emoticon key: one whole token, folded and lowercased."""
        return _fold(key.strip()).lower()

    def _key(self, word: str) -> str:
        """A single-token lexicon entry (negator, intensifier, clause break)."""
        return " ".join(self._phrase_tokens(word))

    def _phrase_tokens(self, phrase: str) -> list[str]:
        """Tokenise a lexicon key like mention text; "<num>" and trailing-* prefixes kept."""
        if self._emoji_key(phrase) in self._emoji_keys:
            return [self._emoji_key(phrase)]
        out: list[str] = []
        for chunk in _fold(phrase.strip().lower()).split():
            if chunk == _NUM or (chunk.endswith("*") and re.fullmatch(_WORD, chunk[:-1])):
                out.append(chunk)
            else:
                out.extend(self._canon_plain(m) for m in _PLAIN_TOKEN_RE.findall(chunk))
        return out

    def _canon_plain(self, tok: str) -> str:
        if tok.isdigit() or tok in self._numbers:
            return _NUM
        return tok

    def _build(self, lexes: Iterable[dict[str, Any]]) -> _Bundle:
        b = _Bundle()
        type_w: dict[tuple[str, ...], dict[int, float]] = {}
        sent_w: dict[tuple[str, ...], tuple[float, bool]] = {}
        negators: set[str] = set()
        intens: dict[str, float] = {}
        breaks: set[str] = set()
        contrast: set[str] = set()

        def add_type(t: str, key: str, w: float) -> None:
            idx = _TYPES.index(MessageType(t))
            toks = tuple(self._phrase_tokens(key))
            if toks:
                slot = type_w.setdefault(toks, {})
                slot[idx] = max(slot.get(idx, 0.0), float(w))  # merged lexicons: the stronger cue

        def add_sent(key: str, w: float, negatable: bool) -> None:
            toks = tuple(self._phrase_tokens(key))
            if toks and (toks not in sent_w or abs(w) > abs(sent_w[toks][0])):
                sent_w[toks] = (float(w), negatable)

        for lex in lexes:
            for t, cues in lex.get("types", {}).items():
                for k, w in cues.items():
                    add_type(t, k, w)
            for k, w in lex.get("sentiment", {}).items():
                add_sent(k, w, True)
            negators.update(self._key(x) for x in lex.get("negators", ()))
            for k, f in lex.get("intensifiers", {}).items():
                intens[self._key(k)] = float(f)
            breaks.update(self._key(x) for x in lex.get("clause_breaks", ()))
            contrast.update(self._key(x) for x in lex.get("contrast", ()))
        # emoji are language-neutral
        for k, w in self._emoji.items():
            add_sent(k, w, False)
        for t, cues in self._emoji_types.items():
            for k, w in cues.items():
                add_type(t, k, w)

        for toks, weights in type_w.items():
            b.type_index.setdefault(toks[0], []).append((list(toks[1:]), tuple(sorted(weights.items()))))
        for toks, (w, negatable) in sent_w.items():
            b.sent_index.setdefault(toks[0], []).append((list(toks[1:]), w, negatable))
        for lst in (*b.type_index.values(), *b.sent_index.values()):
            lst.sort(key=lambda e: len(e[0]), reverse=True)
        b.negators = frozenset(negators)
        b.intensifiers = {k: v for k, v in intens.items() if " " not in k}
        b.breaks = frozenset(breaks)
        b.contrast = frozenset(contrast)
        return b

    # --- per text ---------------------------------------------------------------------------

    def _resolve(self, raw: str) -> str:
        """Canonical token: lowercase, numbers -> <num>, letter runs collapsed, prefix entries."""
        tok = raw.lower()
        if tok.isdigit() or tok in self._numbers:
            return _NUM
        vocab = self._vocab
        if tok in vocab:
            return tok
        if _REPEAT_RE.search(tok):
            two = _REPEAT_RE.sub(r"\1\1", tok)
            if two in vocab:
                return two
            one = _REPEAT_ANY_RE.sub(r"\1", tok)
            if one in vocab or one in self._numbers:
                return _NUM if one in self._numbers else one
            tok = two
        elif not tok.isalnum():  # emoticons: ":))" -> ":)", "<33" -> "<3"
            one = _REPEAT_ANY_RE.sub(r"\1", tok)
            if one in vocab:
                return one
        prefixes = self._prefixes
        if prefixes and tok.isalpha():
            for k in range(min(len(tok) - 1, self._max_prefix), 2, -1):
                hit = prefixes.get(tok[:k])
                if hit is not None:
                    return hit
        return tok

    def _tokens(self, text: str) -> tuple[list[str], list[str]]:
        text = _URL_RE.sub(" ", _fold(text))
        raw = self._token_re.findall(text)
        cache = self._cache
        if len(cache) > _CACHE_MAX:
            cache.clear()
        toks = []
        for r in raw:
            c = cache.get(r)
            if c is None:
                c = cache[r] = self._resolve(r)
            toks.append(c)
        return raw, toks

    def _classify_one(self, text: str, language: str | None) -> Classification:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        bundle = self._both
        if language:
            bundle = self._bundles.get(language.strip().lower()[:2], self._both)
        raw, toks = self._tokens(text)
        ts, pos, neg, sent, excl = _score(bundle, raw, toks)

        cue_complaint, cue_compliment = ts[_COMPLAINT], ts[_COMPLIMENT]
        ts[_COMPLAINT] += _SENTIMENT_TO_TYPE * neg
        ts[_COMPLIMENT] += _SENTIMENT_TO_TYPE * pos
        total = ts[0] + ts[1] + ts[2] + ts[3] + OTHER_THRESHOLD
        type_scores = {t: round(s / total, 4) for t, s in zip(_TYPES, ts)}
        type_scores[MessageType.other] = round(OTHER_THRESHOLD / total, 4)
        best = max(range(4), key=lambda i: (ts[i], -i))  # ties: complaint > question > ...
        mtype = _TYPES[best] if ts[best] >= OTHER_THRESHOLD else MessageType.other

        pull = _TYPE_TO_SENTIMENT * (min(cue_compliment, _PULL_CAP) - min(cue_complaint, _PULL_CAP))
        boost = 1.0 + 0.1 * min(excl, 3)
        score = math.tanh((sent * boost + pull) / _SENTIMENT_SCALE)
        score = round(max(-1.0, min(1.0, score)), 4)
        if score <= -NEUTRAL_BAND:
            sentiment = Sentiment.negative
        elif score >= NEUTRAL_BAND:
            sentiment = Sentiment.positive
        else:
            sentiment = Sentiment.neutral
        return Classification(type=mtype, type_scores=type_scores, sentiment=sentiment, sentiment_score=score)


def _score(b: _Bundle, raw: list[str], toks: list[str]) -> tuple[list[float], float, float, float, int]:
    """One pass over the tokens: type cue scores, positive/negative mass, sentiment sum, '!' count."""
    type_index, sent_index = b.type_index, b.sent_index
    negators, intensifiers, breaks, contrast = b.negators, b.intensifiers, b.breaks, b.contrast
    ts = [0.0, 0.0, 0.0, 0.0]
    pos = neg = sent = 0.0
    excl = 0
    last_neg = last_int = -100
    int_factor = 1.0
    t_next = s_next = 0
    seen: dict[int, int] | None = None
    n = len(toks)
    for i in range(n):
        tok = toks[i]
        if tok in breaks:
            last_neg = last_int = -100
            if tok == "!":
                excl += 1
            elif tok in contrast:
                sent *= 0.5
        negated = i - last_neg <= _NEG_WINDOW

        if i >= t_next:
            cands = type_index.get(tok)
            if cands:
                for rest, weights in cands:
                    L = len(rest)
                    if L and toks[i + 1:i + 1 + L] != rest:
                        continue
                    t_next = i + 1 + L
                    f = 1.0
                    if seen is None:
                        seen = {}
                    k = id(weights)
                    if k in seen:
                        f = _REPEAT_FACTOR if seen[k] == 1 else 0.0
                    seen[k] = seen.get(k, 0) + 1
                    for idx, w in weights:
                        w *= f
                        if negated and tok[0].isalpha() and tok not in negators:
                            if idx == _COMPLIMENT:
                                ts[_COMPLAINT] += 0.7 * w
                                continue
                            if idx == _COMPLAINT:
                                w *= 0.3
                        ts[idx] += w
                    break

        if i >= s_next:
            cands = sent_index.get(tok)
            matched = False
            if cands and not (tok in intensifiers and i + 1 < n and toks[i + 1] in sent_index):
                for rest, w, negatable in cands:
                    L = len(rest)
                    if L and toks[i + 1:i + 1 + L] != rest:
                        continue
                    matched = True
                    s_next = i + 1 + L
                    if negatable:
                        if i - last_int <= _INTENS_WINDOW:
                            w *= int_factor
                        r = raw[i]
                        if len(r) > 2 and r.isupper():
                            w *= 1.3
                        if negated:
                            w = -0.75 * w if w > 0 else -0.5 * w
                    sent += w
                    if w > 0:
                        pos += w
                    else:
                        neg -= w
                    break
            if not matched:
                if tok in negators:
                    last_neg = i
                elif tok in intensifiers:
                    int_factor = intensifiers[tok]
                    last_int = i
    return ts, pos, neg, sent, excl


def _load_packaged(lang: str) -> dict[str, Any]:
    ref = resources.files("classifiers").joinpath("lexicon", f"{lang}.json")
    return json.loads(ref.read_text(encoding="utf-8"))
