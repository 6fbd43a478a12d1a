"""Which brand a post is about, and whether it sits on the brand's own channel. Pure."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.mention import Channel


def norm_account(value: str) -> str:
    """`@PakjePost`, `pakjepost`, `r/PakjePost` all become `pakjepost`; ids stay as they are."""
    value = value.strip().lower()
    for prefix in ("@", "r/", "/r/", "u/", "/u/"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    return value


@dataclass(frozen=True)
class BrandRule:
    name: str
    pattern: re.Pattern[str] | None
    own_accounts: frozenset[str]

    @classmethod
    def build(cls, name: str, keywords: Iterable[str], own_accounts: Iterable[str]) -> "BrandRule":
        words = sorted({k.strip().lower() for k in [name, *keywords] if k.strip()}, key=len, reverse=True)
        # whole words only: "ing" must not match "zending"; '#' and '@' are not word characters,
        # so a keyword also matches as a hashtag or a handle
        pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE) \
            if words else None
        return cls(name, pattern, frozenset(norm_account(a) for a in own_accounts if a.strip()))

    def keyword_in(self, text: str) -> str | None:
        if self.pattern is None:
            return None
        m = self.pattern.search(text)
        return m.group(1).lower() if m else None


@dataclass(frozen=True)
class Match:
    brand: str
    channel: Channel
    keyword: str | None


OWN_POST = "own_post"


def match_post(text: str, author: str | Iterable[str], places: Iterable[str], rules: list[BrandRule], *,
               brand_hint: str | None = None, include_own_posts: bool = False) -> Match | str | None:
    """The brand a post is about, or None (no brand), or OWN_POST (the brand talking).

    `places` are the accounts the post lives on or is addressed to: the page or profile it
    was posted on, the subreddit, the account replied to or @mentioned. A post there is on the
    brand's own channel; anywhere else it is on a third-party site.
    """
    where = {norm_account(p) for p in places if p}
    who = {norm_account(a) for a in ([author] if isinstance(author, str) else author) if a}
    hinted = [r for r in rules if brand_hint and r.name.lower() == brand_hint.lower()]
    for rule in hinted or rules:
        if who & rule.own_accounts and not include_own_posts:
            return OWN_POST
    for rule in hinted or rules:
        keyword = rule.keyword_in(text)
        own = bool((where | who) & rule.own_accounts)
        if own or keyword or hinted:
            return Match(rule.name, Channel.own if own else Channel.third_party, keyword)
    if brand_hint:  # the platform or sender names a brand we have no rule for: trust it
        return Match(brand_hint, Channel.third_party, None)
    return None
