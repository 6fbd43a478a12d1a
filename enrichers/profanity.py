"""Profanity and abuse, for moderation: flag the words, delete only what is abusive, say why.

Webcare deletes a post only for abusive language (never for criticism), and says why.
So two levels:
- *mild* swearing ("shit", "verdomme", "fuck" as an exclamation): flagged, kept, answered
  as usual;
- *abusive*: insults aimed at people, Dutch disease curses ("kanker-", "tyfus", "tering"),
  slurs and threats of violence. On an own channel the post may be deleted (with the
  reason in `moderation.reason`); on a third-party site it can only be reported.

No maintained library covers Dutch (better-profanity and profanity-check are English
only and word lists without a notion of "abusive"), so this is a small curated
lexicon; matching is typo/stretch/leetspeak tolerant (enrichers/text.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from enrichers.text import Lexicon

MILD = "mild"
INSULT = "insult"
CURSE = "curse"  # Dutch disease curses: treated as abusive by Dutch moderation practice
SLUR = "slur"
THREAT = "threat"
ABUSIVE = frozenset({INSULT, CURSE, SLUR, THREAT})

_TERMS: dict[str, str] = {
    # --- Dutch, mild
    "verdomme": MILD, "godverdomme": MILD, "gvd": MILD, "kut": MILD, "kut*": MILD, "shit": MILD, "klote": MILD,
    "klote*": MILD, "pokke*": MILD, "pleur op": MILD, "rot op": MILD, "donder op": MILD, "zeik*": MILD,
    "bagger": MILD, "fck": MILD,
    # --- Dutch, abusive
    "kanker*": CURSE, "kk": CURSE, "tyfus*": CURSE, "tering*": CURSE, "tiefus*": CURSE, "pestlijer*": CURSE,
    "klootzak*": INSULT, "lul": INSULT, "lullen": INSULT, "eikel*": INSULT, "hoer": INSULT, "hoere*": INSULT,
    "teef": INSULT, "sukkel*": INSULT, "mongool": INSULT, "debiel*": INSULT, "idioot": INSULT, "idioten": INSULT,
    "imbeciel*": INSULT, "zakkenwasser*": INSULT, "lijer": INSULT, "kutwijf": INSULT,
    "flikker": SLUR, "nikker": SLUR, "mongolen": SLUR,
    "ik maak je af": THREAT, "ik maak jullie af": THREAT, "ik steek": THREAT, "ik sla je": THREAT,
    "jullie verdienen de dood": THREAT, "ik weet waar je woont": THREAT,
    # --- English, mild
    "fuck": MILD, "fucking": MILD, "fuckin": MILD, "wtf": MILD, "damn": MILD, "goddamn": MILD, "crap": MILD,
    "bullshit": MILD, "f*ck": MILD, "f**k": MILD, "piss*": MILD, "sucks": MILD, "screw you": MILD,
    # --- English, abusive
    "asshole*": INSULT, "arsehole*": INSULT, "bastard*": INSULT, "bitch*": INSULT, "cunt*": INSULT,
    "dickhead*": INSULT, "moron*": INSULT, "retard*": SLUR, "idiot": INSULT, "idiots": INSULT, "scumbag*": INSULT,
    "motherfucker*": INSULT, "faggot*": SLUR, "nigger*": SLUR, "wanker*": INSULT, "fuck you": INSULT,
    "go die": THREAT, "kill you": THREAT, "i will kill": THREAT, "i know where you live": THREAT,
    "burn your office": THREAT,
}
LEXICON = Lexicon(_TERMS)


@dataclass(frozen=True, slots=True)
class Profanity:
    terms: list[str]  # the words as found in the text, in order, unique
    abusive: bool
    categories: list[str]

    @property
    def profane(self) -> bool:
        return bool(self.terms)


def check_profanity(text: str) -> Profanity:
    matches = LEXICON.find(text)
    terms = list(dict.fromkeys(m.found for m in matches))
    categories = sorted({m.category for m in matches})
    return Profanity(terms=terms, abusive=bool(ABUSIVE.intersection(categories)), categories=categories)


def moderation(result: Profanity, *, own_channel: bool) -> tuple[str, str] | None:
    """(action, reason) for a profane post: delete only abusive posts on own channels."""
    if not result.profane:
        return None
    words = ", ".join(f"'{t}'" for t in result.terms[:5])
    if not result.abusive:
        return "none", f"mild swearing ({words}), not abusive: keep the post and answer it as usual"
    kinds = "/".join(c for c in result.categories if c != MILD)
    if own_channel:
        return "delete", (f"abusive language ({kinds}: {words}) on our own channel: delete it, tell the author "
                          "why, and answer the question behind it in private if there is one")
    return "report", f"abusive language ({kinds}: {words}) on a third-party site: report it to the site"
