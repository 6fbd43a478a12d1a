"""Fault hooks for tests: raise (or hang) inside a chosen stage for a chosen mention id.

Set `LUISTER_FAULT_INJECT="index:twitter:123,classify:reddit:t3_x"` (stage:mention id, comma
separated) to raise, `LUISTER_FAULT_STALL="normalize:twitter:9"` to hang the stage there for good,
AND `LUISTER_ALLOW_FAULT_INJECTION=1`; without the last one either is refused at start-up, so a
stray setting cannot poison production traffic. The tests use them to prove that an exception on
one record dead-letters that record and nothing else (tests/test_never_skip_e2e.py) and that a
stuck stage is reported (tests/test_watchdog_e2e.py).
"""
from __future__ import annotations

import os
import traceback

ALLOW = "LUISTER_ALLOW_FAULT_INJECTION"
INJECT = "LUISTER_FAULT_INJECT"
STALL = "LUISTER_FAULT_STALL"


class InjectedFault(RuntimeError):
    """Raised by `maybe_fail` for a configured (stage, mention id)."""


def _parse(spec: str) -> frozenset[tuple[str, str]]:
    pairs = set()
    for item in filter(None, (part.strip() for part in spec.split(","))):
        stage, sep, mention_id = item.partition(":")
        if not sep or not mention_id:
            raise ValueError(f"{INJECT}: expected stage:mention_id, got {item!r}")
        pairs.add((stage, mention_id))
    return frozenset(pairs)


def _load(variable: str) -> frozenset[tuple[str, str]]:
    spec = os.environ.get(variable, "")
    if spec and os.environ.get(ALLOW) != "1":
        raise RuntimeError(f"{variable} is set but {ALLOW} is not 1: fault injection is for tests only")
    return _parse(spec)


_FAULTS = _load(INJECT)
_STALLS = _load(STALL)


def maybe_fail(stage: str, mention_id: str | None) -> None:
    if _FAULTS and (stage, mention_id) in _FAULTS:
        raise InjectedFault(f"injected fault in {stage} for {mention_id}")


async def maybe_stall(stage: str, mention_id: str | None) -> None:
    if _STALLS and (stage, mention_id) in _STALLS:
        import asyncio

        await asyncio.Event().wait()  # never set: the stage hangs here, as on a lost await


def describe(exc: BaseException) -> str:
    """The dead letter's detail for an exception: its repr and the traceback's last frames."""
    frames = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6))
    return f"{exc!r}\n{frames}"[:4000]
