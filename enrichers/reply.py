"""A suggested reply per type x language x tone, ZEKEP-style, from per-brand template files.

ZEKEP (Van der Aart): zakelijk, empathisch, kort, effectief, persoonlijk. So a reply
greets by first name, mirrors the customer's tone ("u" or "je"; a smiley back when
they used emoji on a friendly post), gives one concrete step (a standard answer for a
common problem when the post matches one), offers a private channel for complaints,
and stays short (at most `MAX_CHARS`, a tweet). The words live in data/replies/*.yaml,
so each brand edits its own voice without code.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from enrichers.text import Lexicon

MAX_CHARS = 280
LANGUAGES = ("nl", "en")
_NAME_RE = re.compile(r"[^\W\d_][^\W\d_'\-]*")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k == "standard_answers":
            out[k] = list(v) + list(out.get(k, []))  # the brand's own answers first
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class ReplyBook:
    data: dict[str, Any]
    answers: tuple[tuple[Lexicon, dict[str, Any]], ...]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ReplyBook:
        answers = tuple((Lexicon({w: a["id"] for w in a["match"]}), a["answer"]) for a in data.get("standard_answers", []))
        for lang in LANGUAGES:
            for tone in ("formal", "informal"):
                missing = {"complaint", "question", "suggestion", "compliment", "other"} - set(
                    data["templates"][lang][tone])
                if missing:
                    raise ValueError(f"reply templates {lang}/{tone} lack {sorted(missing)}")
        return cls(data, answers)

    @classmethod
    def load(cls, folder: Path, brand: str | None = None) -> ReplyBook:
        return _load(str(folder), (brand or "").lower())


@lru_cache(maxsize=64)
def _load(folder: str, brand: str) -> ReplyBook:
    data = yaml.safe_load((Path(folder) / "default.yaml").read_text(encoding="utf-8"))
    brand_file = Path(folder) / f"{brand}.yaml"
    if brand and brand_file.is_file():
        data = _merge(data, yaml.safe_load(brand_file.read_text(encoding="utf-8")) or {})
    return ReplyBook.from_data(data)


def first_name(display_name: str | None, handle: str) -> str:
    if display_name:
        m = _NAME_RE.search(display_name)
        if m and len(m.group(0)) > 1:
            return m.group(0)
    return "@" + handle.lstrip("@")


def suggest_reply(book: ReplyBook, *, text: str, type: str, language: str | None, formality: str, emoji: bool,
                  display_name: str | None, handle: str, brand: str, persona: str | None = None,
                  repeated_negativity: bool = False, severity: int = 0, abusive: bool = False) -> str:
    d = book.data
    lang = language if language in LANGUAGES else (d["default_language"] if language in (None, "") else "en")
    tone = formality if formality in ("formal", "informal") else d["default_formality"].get(lang, "formal")
    templates = d["templates"][lang][tone]
    if abusive:
        situation = "moderation"
    elif severity >= 3:
        situation = "escalation"
    elif repeated_negativity:
        situation = "repeated_negativity"
    else:
        situation = type
    template = templates.get(situation) or templates[type]
    answer = ""
    if situation in ("complaint", "question"):
        for lexicon, by_lang in book.answers:
            if lexicon.find(text):
                answer = by_lang[lang][tone]
                break
    reply = template.format(name=first_name(display_name, handle), brand=brand, private=d["private_channel"][lang],
                            answer=answer, signature=d.get("signature", ""))
    extra = (d.get("persona_lines", {}).get(persona or "", {}).get(lang, {}).get(tone)
             if situation not in ("moderation", "escalation") else None)
    if persona == "brand_ambassador" and type != "compliment":
        extra = None  # "may we share this?" only fits praise
    if extra:
        reply = f"{reply} {extra}"
    if emoji and tone == "informal" and situation in ("compliment", "question", "suggestion", "other"):
        reply += " 🙂"
    if d.get("signature"):
        reply = f"{reply} {d['signature']}"
    reply = " ".join(reply.split())
    if len(reply) > MAX_CHARS and extra:  # short beats complete: drop the persona line first
        reply = " ".join(reply.replace(extra, "").split())
    return reply[:MAX_CHARS]
