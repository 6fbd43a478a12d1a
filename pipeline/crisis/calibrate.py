"""How the defaults were chosen: false alerts on quiet days and detection delay on bursts, offline.

    python -m pipeline.crisis.calibrate [--days 2] [--seeds 3] [--min-count 6 8] [--p-open 1e-5 1e-6 1e-7]

Quiet streams: `--days` days each of the synthetic generator with a day/night curve (peak 30 mentions a
minute over 9 brands at 14:00 UTC, a quarter at night), one per seed. Burst streams: 30/min ordinary
traffic plus a 15-minute negative burst for one brand at 10, 20, 30, 40 and 60 mentions a minute,
starting at three different offsets (so windows and bursts do not line up). Every grid point replays
all of them through the detector and prints false opens and delays (docs/crisis.md has the table).
"""
from __future__ import annotations

import argparse
import itertools
from datetime import timedelta

from connectors.synthetic import DEFAULT_START, BurstSpec, daily_profile, generate
from core.settings.crisis import CrisisSettings
from pipeline.crisis.simulate import Replay, classify

BURST_RATES = (10, 20, 30, 40, 60)
OFFSETS = ((21, "Belnet", 90.0), (22, "PakjePost", 97.5), (23, "Snelhap", 183.3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--min-count", type=int, nargs="+", default=[CrisisSettings().min_count])
    parser.add_argument("--p-open", type=float, nargs="+", default=[CrisisSettings().p_open])
    args = parser.parse_args()

    quiet = [classify([m for m, _ in generate(int(30 * 0.625 * 1440 * args.days), seed=seed, rate_per_minute=30.0,
                                              rate_profile=daily_profile())]) for seed in range(1, args.seeds + 1)]
    brand_days = sum((q[-1].created_at - q[0].created_at).total_seconds() / 86400 * 9 for q in quiet)
    bursts = {}
    for rate, (seed, brand, offset) in itertools.product(BURST_RATES, OFFSETS):
        spec = BurstSpec(brand, timedelta(minutes=offset), timedelta(minutes=15), float(rate), "storing")
        raw = [m for m, _ in generate(int(30 * (offset + 60) + rate * 15), seed=seed, rate_per_minute=30.0, burst=spec)]
        bursts[(rate, seed)] = (DEFAULT_START + spec.start_offset, brand, classify(raw))
    print(f"quiet: {sum(map(len, quiet))} mentions, {brand_days:.0f} brand-days; bursts: {len(bursts)} streams")
    for min_count, p_open in itertools.product(args.min_count, args.p_open):
        cfg = CrisisSettings(min_count=min_count, p_open=p_open)
        false_quiet = 0
        for stream in quiet:
            replay = Replay(cfg)
            replay.feed(stream)
            false_quiet += sum(a.status.value == "open" for a in replay.alerts)
        delays: dict[int, list[float | None]] = {}
        false_burst = 0
        for (rate, _seed), (start, brand, stream) in bursts.items():
            replay = Replay(cfg)
            replay.feed(stream)
            opens = [a for a in replay.alerts if a.status.value == "open"]
            hits = [a for a in opens if a.brand == brand and a.opened_at >= start]
            false_burst += len(opens) - min(1, len(hits))
            delays.setdefault(rate, []).append(round((hits[0].opened_at - start).total_seconds(), 1) if hits else None)
        print(f"min_count={min_count} p_open={p_open:g}: false opens {false_quiet} on quiet days, {false_burst} "
              f"in burst streams; delay (s) by burst rate/min: "
              + ", ".join(f"{r}: {d}" for r, d in delays.items()))


if __name__ == "__main__":
    main()
