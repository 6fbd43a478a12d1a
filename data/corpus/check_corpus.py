"""Check the hand-labelled mention corpus (nl.jsonl / en.jsonl) against the labelling guide.

Exits 1 when any file has a problem (invalid JSON, unknown fields or labels, bad ids,
duplicate ids or texts, URLs outside example domains, real brand names), else 0.
Prints counts by type, sentiment, sector, channel and hard case for every file.
See docs/labelling-guide.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_FILES = (HERE / "nl.jsonl", HERE / "en.jsonl")

FIELDS = ("id", "text", "lang", "type", "sentiment", "sector", "channel", "hard_case")
ALLOWED = {
    "lang": {"nl", "en"},
    "type": {"complaint", "question", "suggestion", "compliment", "other"},
    "sentiment": {"negative", "neutral", "positive"},
    "sector": {
        "telecom",
        "parcel",
        "airline",
        "public_transport",
        "energy",
        "banking",
        "insurance",
        "retail",
        "food_delivery",
    },
    "channel": {"post", "reply", "review", "forum"},
}
GUIDE_HARD_CASES = {
    "complaint_as_question",
    "sarcastic_praise",
    "complaint_with_thanks",
    "suggestion_in_compliment",
    "question_no_qmark",
    "neutral_news",
    "negative_chatter",
    "resolved_thanks",
    "mixed",
    "brand_promo",
    "job_post",
    "brand_reply",
    "question_with_worry",
    "code_switch",
    "sarcasm_joke",
    "joke",
}
ID_RE = re.compile(r"^(nl|en)-\d{4,}$")
TAG_RE = re.compile(r"^[a-z_]{0,40}$")
URL_RE = re.compile(r"https?://([^/\s?#]+)", re.IGNORECASE)
# Real companies the corpus must not name (the model must not learn real brands).
REAL_BRANDS = re.compile(
    r"\b(KPN|PostNL|KLM|Transavia|Rabobank|ABN ?AMRO|Vattenfall|Eneco|Essent|Ziggo|"
    r"Vodafone|Odido|T-Mobile|Coolblue|bol\.com|Thuisbezorgd|Deliveroo|Albert Heijn|"
    r"Jumbo|DHL|Achmea|Interpolis|Centraal Beheer|Ohra|Arriva|Connexxion|Qbuzz|"
    r"Ryanair|easyJet|Lufthansa|Uber ?Eats|Amazon|Zalando|Greenchoice|Budget ?Energie|"
    r"Triodos|bunq|Knab|ASN|ING|NS|GVB|RET|HTM)\b"
)
MIN_WORDS, MAX_WORDS = 1, 160


def normalise(text: str) -> str:
    """Text reduced to letters and digits, for catching near-identical duplicates."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", " ", folded).strip()


def check_record(rec: object, where: str, expected_lang: str | None) -> list[str]:
    """Problems of one parsed line (empty list when it is fine)."""
    if not isinstance(rec, dict):
        return [f"{where}: not a JSON object"]
    problems = []
    missing = [f for f in FIELDS if f not in rec]
    extra = [f for f in rec if f not in FIELDS]
    if missing:
        problems.append(f"{where}: missing fields {missing}")
    if extra:
        problems.append(f"{where}: unknown fields {extra}")
    for field in FIELDS:
        if field in rec and not isinstance(rec[field], str):
            problems.append(f"{where}: {field} is not a string")
    if problems:
        return problems
    for field, allowed in ALLOWED.items():
        if rec[field] not in allowed:
            problems.append(f"{where}: {field}={rec[field]!r} not in {sorted(allowed)}")
    if not ID_RE.match(rec["id"]) or not rec["id"].startswith(rec["lang"] + "-"):
        problems.append(f"{where}: bad id {rec['id']!r} (want {rec['lang']}-NNNN)")
    if expected_lang and rec["lang"] != expected_lang:
        problems.append(f"{where}: lang {rec['lang']!r} in a {expected_lang} file")
    if not TAG_RE.match(rec["hard_case"]):
        problems.append(f"{where}: hard_case {rec['hard_case']!r} is not a short snake_case tag")
    text = rec["text"]
    if text != text.strip() or "\n" in text:
        problems.append(f"{where}: text has surrounding whitespace or a newline")
    words = len(text.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(f"{where}: text has {words} words")
    for host in URL_RE.findall(text):
        if not (host.lower().endswith(".example") or host.lower() == "example.com"):
            problems.append(f"{where}: URL host {host!r} is not an example domain")
    real = REAL_BRANDS.search(text)
    if real:
        problems.append(f"{where}: real brand name {real.group(0)!r}")
    return problems


def check_file(path: Path, seen_texts: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Parse and check one file; seen_texts (normalised text -> id) spans all files."""
    expected = path.stem if path.stem in ALLOWED["lang"] else None
    records: list[dict] = []
    problems: list[str] = []
    seen_ids: set[str] = set()
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [f"{path}: not UTF-8 ({exc})"]
    for lineno, line in enumerate(content.splitlines(), 1):
        where = f"{path.name}:{lineno}"
        if not line.strip():
            problems.append(f"{where}: empty line")
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc.msg})")
            continue
        found = check_record(rec, where, expected)
        problems.extend(found)
        rec_id = rec.get("id") if isinstance(rec, dict) else None
        if isinstance(rec_id, str):
            if rec_id in seen_ids:
                problems.append(f"{where}: duplicate id {rec_id}")
            seen_ids.add(rec_id)
        if found:
            continue
        key = normalise(rec["text"])
        if key in seen_texts:
            problems.append(f"{where}: duplicate text (same as {seen_texts[key]})")
        seen_texts[key] = rec["id"]
        records.append(rec)
    return records, problems


def report(path: Path, records: list[dict], out=sys.stdout) -> None:
    """Print label distributions of one file."""
    n = len(records)
    print(f"== {path} : {n} records", file=out)
    if not n:
        return
    for field in ("type", "sentiment", "sector", "channel", "hard_case"):
        counts = Counter(r[field] or "-" for r in records)
        parts = ", ".join(f"{k} {v} ({100 * v / n:.0f}%)" for k, v in counts.most_common())
        print(f"  {field:10s} {parts}", file=out)
    pairs = Counter((r["type"], r["sentiment"]) for r in records)
    print("  type x sentiment:", file=out)
    for t in sorted(ALLOWED["type"]):
        row = "  ".join(f"{s[:3]} {pairs[(t, s)]:4d}" for s in sorted(ALLOWED["sentiment"]))
        print(f"    {t:11s} {row}", file=out)
    words = sorted(len(r["text"].split()) for r in records)
    print(f"  words      min {words[0]}  median {words[n // 2]}  max {words[-1]}", file=out)
    unknown = sorted({r["hard_case"] for r in records} - GUIDE_HARD_CASES - {""})
    if unknown:
        print(f"  note: hard_case tags not in the guide: {unknown}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check the labelled corpus files (JSON lines) against "
        "docs/labelling-guide.md and print label counts. Exits 1 on any problem."
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="JSONL files to check (default: nl.jsonl and en.jsonl next to this script, "
        "whichever exist)",
    )
    parser.add_argument(
        "--min-lines", type=int, default=0, help="fail when a file has fewer valid records"
    )
    parser.add_argument(
        "--max-problems", type=int, default=50, help="how many problems to print (default 50)"
    )
    args = parser.parse_args(argv)
    files = args.files or [p for p in DEFAULT_FILES if p.exists()]
    if not files:
        print("no corpus files found", file=sys.stderr)
        return 1
    problems: list[str] = []
    seen_texts: dict[str, str] = {}
    for path in files:
        if not path.exists():
            problems.append(f"{path}: does not exist")
            continue
        records, found = check_file(path, seen_texts)
        problems.extend(found)
        if len(records) < args.min_lines:
            problems.append(f"{path}: {len(records)} valid records < --min-lines {args.min_lines}")
        report(path, records)
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems[: args.max_problems]:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
