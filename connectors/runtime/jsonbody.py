"""Parse untrusted JSON from the network without surprises.

`json.loads` raises RecursionError on deeply nested input and accepts lone UTF-16
surrogates ("\\ud800") that blow up later when the text is encoded; pydantic-core's
parser bounds the nesting depth and rejects both with a ValueError.
"""
from __future__ import annotations

from typing import Any

from pydantic_core import from_json


def parse_json(body: bytes | str) -> Any:
    """The decoded document, or ValueError (UnicodeDecodeError for bytes that are not UTF-8)."""
    if isinstance(body, bytes):
        body.decode("utf-8")  # a clear UnicodeDecodeError first, so callers can say "undecodable"
    return from_json(body)
