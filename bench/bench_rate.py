"""Time the rate limiter the way a worker uses it: `next_allowed`, then `record`, at full demand.

Run: /work/venv/bin/python bench/bench_rate.py   (prints one JSON object on one line)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.schedule.rate import RateLimiter  # noqa: E402

PAIRS = 200_000
REPEATS = 3
CASES = {  # name: (dials per minute, burst)
    "30_per_min_paced": (30, 1),
    "5000_per_min_paced": (5000, 1),
    "5000_per_min_burst_50": (5000, 50),
    "5000_per_min_sliding_window": (5000, 5000),
    "600000_per_min_paced": (600_000, 1),
    "60000_per_min_sliding_window": (60_000, 60_000),
}


def _pairs_per_second(per_minute: float, burst: int) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        limiter = RateLimiter(per_minute, burst=burst)
        next_allowed, record = limiter.next_allowed, limiter.record
        now = 1_000_000.0
        started = time.perf_counter()
        for _ in range(PAIRS):
            now = next_allowed(now)
            record(now)
        best = min(best, time.perf_counter() - started)
    return PAIRS / best


def _rate_change_cost() -> float:
    """Pairs per second when the rate is cut and raised every 100 dials (hot reload churn)."""
    limiter = RateLimiter(5000, burst=5000)
    now = 0.0
    started = time.perf_counter()
    for i in range(PAIRS):
        if i % 100 == 0:
            limiter.set_rate(600 if i % 200 else 5000)
        now = limiter.next_allowed(now)
        limiter.record(now)
    return PAIRS / (time.perf_counter() - started)


def main() -> None:
    result: dict[str, object] = {"pairs": PAIRS, "repeats": REPEATS}
    for name, (per_minute, burst) in CASES.items():
        result[f"{name}_pairs_per_s"] = round(_pairs_per_second(per_minute, burst))
    result["rate_change_every_100_pairs_per_s"] = round(_rate_change_cost())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
