"""Text material for the synthetic mention generator: the YAML files in `synthetic_data/` plus a few helpers.

Texts are built from templates with `{slot}` placeholders, filled recursively from
common, per-sector and per-brand word lists, so a few hundred parts yield thousands of
distinct posts. Slot modifiers: `{^x}` capitalises the first letter, `{!x}` shouts
(upper case). All brands, people, places-in-URLs and handles are fictional.

The data names below (`BRANDS`, `TEMPLATES`, ...) are read from the files on first use and
cached (PEP 562 module `__getattr__`); each file's top-level keys are the names in lower case.
No other I/O here: `connectors.synthetic` does the sampling and assembly.
"""
from __future__ import annotations

import random
import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGS = ("nl", "en")
TYPES = ("complaint", "question", "suggestion", "compliment", "other")

_FILES = ("brands", "common", "sectors", "templates", "personas", "burst", "decoration", "people")
_PAIR_KEYED = ("TEMPLATES", "BURST", "DETAIL", "HASHTAGS")  # {a: {b: v}} in YAML, {(a, b): v} here

# The data names and their types, for readers and type checkers (the values come from _load()).
BRANDS: dict[str, tuple[str, str]]  # brand -> (sector, social handle)
COMMON: dict[str, dict[str, list[str]]]  # lang -> slot -> words
SECTORS: dict[str, dict[str, dict[str, list[str]]]]  # sector -> lang -> slot -> words
TEMPLATES: dict[tuple[str, str], list[str]]  # (type, lang)
CRITIC: dict[str, list[str]]
CRITIC_OTHER: dict[str, list[str]]
ANGRY: dict[str, list[str]]
RESOLVED: dict[str, list[str]]
AMBASSADOR: dict[str, list[str]]
PRESS: dict[str, list[str]]
NEWS_LEAD: dict[str, list[str]]
BURST: dict[tuple[str, str], list[str]]  # (type, lang)
DETAIL: dict[tuple[str, str], list[str]]  # (type, lang)
STARS: dict[str, str]
HASHTAGS: dict[tuple[str, str], list[str]]  # (mood, lang)
CODESWITCH: dict[str, list[str]]
FRIENDS: list[str]
SLANG: dict[str, dict[str, str]]
FORMAL_MARKERS: tuple[str, ...]
FIRST: dict[str, list[str]]
LAST: dict[str, list[str]]
CRITIC_HANDLES: list[str]
OUTLETS: dict[str, list[tuple[str, str]]]  # lang -> (display name, handle)
_NAMES = frozenset(__annotations__)


def _read(name: str) -> dict[str, Any]:
    text = (resources.files(__package__) / "synthetic_data" / f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def _load() -> dict[str, Any]:
    data = {key.upper(): value for name in _FILES for key, value in _read(name).items()}
    if set(data) != _NAMES:
        raise RuntimeError(f"synthetic_data/*.yaml: missing {sorted(_NAMES - set(data))}, "
                           f"unknown {sorted(set(data) - _NAMES)}")
    for name in _PAIR_KEYED:
        data[name] = {(a, b): v for a, per_b in data[name].items() for b, v in per_b.items()}
    data["BRANDS"] = {brand: (b["sector"], b["handle"]) for brand, b in data["BRANDS"].items()}
    data["OUTLETS"] = {lang: [(o["name"], o["handle"]) for o in v] for lang, v in data["OUTLETS"].items()}
    data["FORMAL_MARKERS"] = tuple(data["FORMAL_MARKERS"])
    if bad := {s for s, _ in data["BRANDS"].values()} - set(data["SECTORS"]):
        raise RuntimeError(f"synthetic_data/brands.yaml: unknown sectors {sorted(bad)}")
    return data


def __getattr__(name: str) -> Any:
    """First use of a data name: load the files and make all of them plain module globals."""
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals().update(_load())
    return globals()[name]


# ---------------------------------------------------------------- helpers
_SLOT = re.compile(r"\{([\^!]?)([a-z_]+)\}")


def fill(template: str, slots: dict[str, str | list[str]], rng: random.Random, depth: int = 4) -> str:
    """Fill `{slot}`s recursively; a list slot picks one value per use (so repeats vary)."""
    def sub(m: re.Match[str]) -> str:
        mod, name = m.groups()
        value = slots[name]
        text = rng.choice(value) if isinstance(value, list) else value
        if depth and "{" in text:
            text = fill(text, slots, rng, depth - 1)
        if mod == "^":
            return text[:1].upper() + text[1:]
        if mod == "!":
            return text.upper()
        return text
    return _SLOT.sub(sub, template)


def slots_for(brand: str, lang: str) -> dict[str, str | list[str]]:
    """The slot table for one brand and language: common + sector words + the brand."""
    data = _load()
    sector, _ = data["BRANDS"][brand]
    return {**data["COMMON"][lang], **data["SECTORS"][sector][lang], "brand": brand}


def add_sentence(text: str, sentence: str) -> str:
    """Append a sentence, closing the previous one first if it ends in a bare word."""
    return f"{text}{'.' if text[-1:].isalnum() else ''} {sentence}"


def is_formal(text: str) -> bool:
    return any(marker.replace("{brand}", "") in text for marker in _load()["FORMAL_MARKERS"])


def informalise(text: str, lang: str, rng: random.Random, rate: float = 0.35) -> str:
    """Slang spellings and the odd typo; never touches brand names, @handles, #tags or URLs."""
    data = _load()
    # brands are never misspelt: a misspelt brand would escape keyword matching
    swaps, brands = data["SLANG"][lang], {b.lower() for b in data["BRANDS"]}
    words = text.split(" ")
    for i, word in enumerate(words):
        core = word.rstrip(".,!?")
        if core in swaps and rng.random() < rate:
            words[i] = swaps[core] + word[len(core):]
        elif len(core) > 6 and core.isalpha() and core.islower() and core not in brands and rng.random() < 0.03:
            j = rng.randrange(1, len(core) - 1)  # swap two neighbouring letters: a typo
            words[i] = core[:j] + core[j + 1] + core[j] + core[j + 2:] + word[len(core):]
    return " ".join(words)
