"""What a mention is about: hashtags and configured topic keywords. Pure."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

BRAND_TOPIC = "*"  # the unit that counts every mention of the brand
_HASHTAG = re.compile(r"#(\w{2,60})", re.UNICODE)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=16)
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    words = sorted({_fold(k).strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


def topics_of(text: str, brand: str, keywords: Iterable[str], *, limit: int = 3,
              brand_handles: Iterable[str] = ()) -> list[str]:
    """Topic keys of a mention, most specific first: hashtags (not the brand's own), then keywords."""
    if limit <= 0:
        return []
    folded = _fold(text)
    own = {_fold(brand), *(_fold(h).lstrip("@") for h in brand_handles)}
    out: list[str] = []
    for tag in _HASHTAG.findall(folded):
        key = "#" + tag
        if tag not in own and key not in out:
            out.append(key)
    pattern = _keyword_pattern(tuple(keywords))
    if pattern is not None:
        for word in pattern.findall(folded):
            if word not in out:
                out.append(word)
    return out[:limit]
