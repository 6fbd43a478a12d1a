"""Severity 0-3 with the reasons, so serious complaints reach the people responsible at once.

0  nothing to act on urgently (praise, chatter, a plain question)
1  an ordinary complaint or negative post; mild profanity
2  needs a senior look today: a claim for damages, a journalist or high-reach author
   being negative, repeated negativity across sites/again and again
3  escalate now: legal threats, safety or health, a data leak, very high reach negative

The level is the maximum over the rules that fire; every rule that fired adds a
reason ("legal threat: 'advocaat'"). Lexicons are Dutch and English and tolerate
typos, stretched letters and case (enrichers/text.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from enrichers.text import Lexicon

CLAIM, LEGAL, SAFETY, DATA_LEAK, PRESS_WORD = "claim", "legal_threat", "safety", "data_leak", "press"

_TERMS: dict[str, str] = {
    # claims
    "schadeclaim": CLAIM, "claim": CLAIM, "claimen": CLAIM, "schadevergoeding": CLAIM, "schade vergoed": CLAIM,
    "aansprakelijk*": CLAIM, "compensatie": CLAIM, "vergoeding eisen": CLAIM, "ik eis": CLAIM, "geld terug eisen": CLAIM,
    "compensation": CLAIM, "damages": CLAIM, "liable": CLAIM, "liability": CLAIM, "reimburse*": CLAIM,
    "i demand a refund": CLAIM, "hold you responsible": CLAIM,
    # legal threats
    "advocaat": LEGAL, "advokaat": LEGAL, "mijn advocaat": LEGAL, "rechtszaak": LEGAL, "rechter": LEGAL,
    "naar de rechter": LEGAL, "juridische stappen": LEGAL, "juridisch": LEGAL, "aangifte": LEGAL,
    "dagvaard*": LEGAL, "geschillencommissie": LEGAL, "rechtsbijstand": LEGAL, "aanklagen": LEGAL,
    "ingebrekestelling": LEGAL, "lawyer": LEGAL, "attorney": LEGAL, "sue": LEGAL, "suing": LEGAL, "lawsuit": LEGAL,
    "legal action": LEGAL, "take you to court": LEGAL, "small claims": LEGAL, "solicitor": LEGAL,
    # safety and health
    "brandgevaar*": SAFETY, "in brand": SAFETY, "vlam gevat": SAFETY, "vlammen": SAFETY, "rookontwikkeling": SAFETY,
    "ontploft": SAFETY, "explodeer*": SAFETY, "kortsluiting": SAFETY, "gewond": SAFETY, "verwond*": SAFETY,
    "ziekenhuis": SAFETY, "spoedeisende hulp": SAFETY, "ambulance": SAFETY, "vergiftig*": SAFETY,
    "voedselvergiftiging": SAFETY, "allergische reactie": SAFETY, "levensgevaarlijk": SAFETY, "gevaarlijk": SAFETY,
    "onveilig": SAFETY, "stroomschok": SAFETY, "gaslek": SAFETY, "ziek geworden": SAFETY, "doodziek": SAFETY,
    "stukje glas": SAFETY, "glasscherf*": SAFETY, "on fire": SAFETY, "caught fire": SAFETY, "smoke": SAFETY, "exploded": SAFETY,
    "explosion": SAFETY, "injured": SAFETY, "injury": SAFETY, "hospital": SAFETY, "poisoning": SAFETY,
    "food poisoning": SAFETY, "allergic reaction": SAFETY, "dangerous": SAFETY, "unsafe": SAFETY,
    "electric shock": SAFETY, "gas leak": SAFETY, "got sick": SAFETY, "hazard": SAFETY,
    # data leaks
    "datalek": DATA_LEAK, "gehackt": DATA_LEAK, "gehacked": DATA_LEAK, "persoonsgegevens": DATA_LEAK,
    "gegevens van iemand anders": DATA_LEAK, "gegevens van een ander": DATA_LEAK, "mijn gegevens gelekt": DATA_LEAK,
    "gelekt": DATA_LEAK, "privacyschending": DATA_LEAK, "autoriteit persoonsgegevens": DATA_LEAK,
    "data breach": DATA_LEAK, "data leak": DATA_LEAK, "leaked": DATA_LEAK, "hacked": DATA_LEAK,
    "someone else's data": DATA_LEAK, "someone else's details": DATA_LEAK, "personal data": DATA_LEAK, "gdpr": DATA_LEAK,
}
LEXICON = Lexicon(_TERMS)
_LEVEL = {CLAIM: 2, LEGAL: 3, SAFETY: 3, DATA_LEAK: 3}
_LABEL = {CLAIM: "claim", LEGAL: "legal threat", SAFETY: "safety/health", DATA_LEAK: "data leak"}
# words in a handle or display name that mark press (besides source "news" and a configured list)
PRESS_NAME_WORDS = ("journalist", "redactie", "redacteur", "verslaggever", "nieuws", "news", "reporter",
                    "correspondent", "editor", "dagblad", "krant", "omroep")


@dataclass(frozen=True)
class SeverityConfig:
    influencer_followers: int = 10_000  # a negative post from here is read widely: at least 2
    high_reach_followers: int = 100_000  # ... from here: 3
    press_handles: frozenset[str] = frozenset()  # known journalists, lowercased without "@"


@dataclass(frozen=True)
class Signals:
    """What the text and author say, before any history (computed in the enrich stage)."""

    terms: dict[str, list[str]] = field(default_factory=dict)  # category -> words found
    press: bool = False
    influencer: bool = False
    followers: int = 0


@dataclass(frozen=True)
class Severity:
    level: int
    reasons: list[str]


def text_signals(text: str, *, source: str, handle: str, display_name: str | None, followers: int | None,
                 cfg: SeverityConfig = SeverityConfig()) -> Signals:
    terms: dict[str, list[str]] = {}
    for match in LEXICON.find(text):
        terms.setdefault(match.category, [])
        if match.found not in terms[match.category]:
            terms[match.category].append(match.found)
    name = f"{handle} {display_name or ''}".lower()
    press = (source == "news" or handle.lstrip("@").lower() in cfg.press_handles
             or any(word in name for word in PRESS_NAME_WORDS))
    n = followers or 0
    return Signals(terms=terms, press=press, influencer=n >= cfg.influencer_followers, followers=n)


def assess_severity(signals: Signals, *, negative: bool, complaint: bool, question: bool = False,
                    profane: bool = False, repeated_negativity: bool = False,
                    cfg: SeverityConfig = SeverityConfig()) -> Severity:
    level, reasons = 0, []
    # A risk word in a post that is not negative and no complaint is mostly reporting or praise
    # ("no safety issues", "geen datalek", a news item about lawsuits elsewhere): a note for
    # the team, never a page. A question about a risk ("is this charger safe?") is for today.
    term_cap = 3 if negative or complaint else 2 if question else 1

    def rule(at_least: int, reason: str) -> None:
        nonlocal level
        level = max(level, at_least)
        reasons.append(reason)

    if complaint or negative:
        rule(1, "complaint" if complaint else "negative sentiment")
    for category, words in signals.terms.items():
        capped = "" if _LEVEL[category] <= term_cap else " (post not negative)"
        rule(min(_LEVEL[category], term_cap), f"{_LABEL[category]}: " + ", ".join(f"'{w}'" for w in words[:3]) + capped)
    if signals.press:
        rule(2 if negative or complaint else 1, "press/journalist author")
    if signals.followers >= cfg.high_reach_followers and (negative or complaint):
        rule(3, f"very high reach: {signals.followers:,} followers")
    elif signals.influencer and (negative or complaint):
        rule(2, f"high reach: {signals.followers:,} followers")
    if repeated_negativity:
        rule(2, "repeated negativity")
    if profane:
        rule(1, "profanity")
    return Severity(level, reasons)


def with_repeated_negativity(level: int, reasons: list[str], repeated: bool) -> Severity:
    """Raise an enrich-stage severity once history shows repeated negativity."""
    if not repeated:
        return Severity(level, list(reasons))
    return Severity(max(level, 2), [*reasons, "repeated negativity"])
