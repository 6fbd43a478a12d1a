"""Where a worker's time goes, from py-spy's raw (collapsed-stack) output.

    python -m bench.spy .cache/bench/profile/worker-<tag>-gil.txt [--top 40]

`bench.run --profile` samples the one-worker run twice: every thread (`worker-<tag>.txt`: the
model's native time shows as `Session.run`) and only the thread holding the GIL
(`worker-<tag>-gil.txt`: the Python work that one core has to do, and so its ceiling). Prints
the share of samples each function is on the stack for (inclusive) and at the top of (self).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_SITE = re.compile(r"\(/.*?/site-packages/")
_LINE = re.compile(r":\d+\)")
# the frames every sample passes through (start-up, the event loop, thread bootstrap): not informative
PLUMBING = re.compile(r"\((click/|faust/cli/|faust/__main__|mode/worker|<frozen runpy>|threading\.py|"
                      r"asyncio/base_events|asyncio/events|concurrent/futures/thread)")


def frame_name(frame: str, root: str) -> str:
    """`func (path:line)` -> `func (short/path)`: lines merged, paths relative."""
    return _LINE.sub(")", _SITE.sub("(", frame.replace(f"({root}/", "(")))


def shares(lines, root: str) -> tuple[int, Counter, Counter]:
    """(samples, inclusive counts, self counts) by frame name."""
    total, inclusive, own = 0, Counter(), Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f, root) for f in stack.split(";")[1:]]  # [0] is the thread
        total += n
        for name in set(frames):
            inclusive[name] += n
        if frames:
            own[frames[-1]] += n
    return total, inclusive, own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    from core.paths import PROJECT_ROOT

    total, inclusive, own = shares(args.file.read_text().splitlines(), str(PROJECT_ROOT))
    print(f"{total} samples in {args.file}")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"--- {title}")
        for name, n in [(k, v) for k, v in counts.most_common() if not PLUMBING.search(k)][:args.top]:
            print(f"{n / max(total, 1):6.1%}  {name[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
