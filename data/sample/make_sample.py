"""Regenerate the bundled sample: `mentions.jsonl` (valid mentions + 6 bad lines) and `labels.csv`.

    .venv/bin/python data/sample/make_sample.py [--count 520] [--seed 7] [--out data/sample]

The bad lines are appended on purpose: each must end in the dead-letter topic, for a
different reason (malformed JSON, missing field, bad date, unknown source, oversized
text, invalid UTF-8).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from connectors.synthetic import generate_records, to_json_line  # noqa: E402
from schemas.mention import MAX_TEXT_CHARS  # noqa: E402


def bad_lines() -> list[bytes]:
    base = {"id": "twitter:bad-0", "source": "twitter", "channel": "own", "author": {"handle": "dlq_tester"},
            "text": "@Belnet test", "created_at": "2026-10-01T09:00:00Z", "brand": "Belnet"}

    def variant(n: int, **changes) -> bytes:
        record = {**base, "id": f"twitter:bad-{n}", **changes}
        return json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False).encode()

    return [
        b'{"id": "twitter:bad-1", "source": "twitter", "text": "afgebroken regel',  # not JSON
        variant(2, text=None),  # missing `text`
        variant(3, created_at="gisteren rond acht uur"),  # not a date
        variant(4, id="myspace:bad-4", source="myspace"),  # unknown source
        variant(5, text="Belnet " + "x" * (12_000 - 7)),  # over MAX_TEXT_CHARS
        b'{"id": "twitter:bad-6", "source": "twitter", "channel": "own", "author": {"handle": "dlq_tester"}, '
        b'"text": "kapotte bytes \xff\xfe hier", "created_at": "2026-10-01T09:00:00Z", "brand": "Belnet"}',  # not UTF-8
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=520, help="valid mentions to generate (default 520)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output directory (default: this script's directory)")
    args = parser.parse_args(argv)
    assert 12_000 > MAX_TEXT_CHARS  # the oversized line must stay oversized
    args.out.mkdir(parents=True, exist_ok=True)
    records = list(generate_records(args.count, seed=args.seed))
    with (args.out / "mentions.jsonl").open("wb") as fh:
        for rec in records:
            fh.write(to_json_line(rec.mention).encode() + b"\n")
        for line in bad_lines():
            fh.write(line + b"\n")
    with (args.out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "true_type", "language"])
        writer.writerows([rec.mention.id, rec.label, rec.language] for rec in records)
    print(f"wrote {len(records)} mentions + {len(bad_lines())} bad lines to {args.out / 'mentions.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
