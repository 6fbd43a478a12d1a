"""The labelled corpus (data/corpus/{nl,en}.jsonl) and its fixed train/validation/test split.

The split is frozen in data/corpus/split.json (ids of the validation and test sets; every
other id is training data), made once by `make_split` when the corpus was complete: within
each (language, type) group the ids are ordered by their SHA-256 and the first 20 % (rounded
up) go to test, the next 15 % to validation. Ids added to the corpus later train only.
The test set is for the final report: training never reads it. It is not a clean held-out
estimate all the same: the first model's test figures set the goal of a later round (docs/model.md,
"How the test split was used").
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.paths import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT / "data" / "corpus"
CORPUS_FILES = ("nl.jsonl", "en.jsonl")
SPLIT_FILE = CORPUS_DIR / "split.json"
TEST_SHARE = 0.20
VALIDATION_SHARE = 0.15
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    lang: str
    type: str
    sentiment: str
    hard_case: str = ""


def load_corpus(folder: Path = CORPUS_DIR) -> list[Example]:
    examples = []
    for name in CORPUS_FILES:
        path = Path(folder) / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                examples.append(Example(r["id"], r["text"], r["lang"], r["type"], r["sentiment"],
                                        r.get("hard_case") or ""))
    return examples


def _rank(example_id: str) -> str:
    return hashlib.sha256(example_id.encode()).hexdigest()


def make_split(examples: Iterable[Example]) -> dict[str, list[str]]:
    """Stratified by (language, type), deterministic by id."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ex in examples:
        groups[(ex.lang, ex.type)].append(ex.id)
    split: dict[str, list[str]] = {"validation": [], "test": []}
    for key in sorted(groups):
        ids = sorted(groups[key], key=_rank)
        n_test = math.ceil(len(ids) * TEST_SHARE)
        n_val = math.ceil(len(ids) * VALIDATION_SHARE)
        split["test"] += ids[:n_test]
        split["validation"] += ids[n_test:n_test + n_val]
    return {k: sorted(v) for k, v in split.items()}


def write_split(split: dict[str, list[str]], path: Path = SPLIT_FILE) -> None:
    doc = {"rule": "stratified by (lang, type); per group ids ordered by sha256(id): first 20% (ceil) test, "
                   "next 15% (ceil) validation; every other id trains", **split}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def load_split(path: Path = SPLIT_FILE) -> dict[str, set[str]]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return {"validation": set(doc["validation"]), "test": set(doc["test"])}


def assign(examples: Iterable[Example], split: dict[str, set[str]]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for ex in examples:
        name = "test" if ex.id in split["test"] else "validation" if ex.id in split["validation"] else "train"
        out[name].append(ex)
    return out
