"""Time `is_open` and `next_open` the way the scheduler calls them: many leads, few zone sets.

Run: /work/venv/bin/python bench/bench_window.py   (prints one JSON object)
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.schedule import window as win  # noqa: E402

CALLS = 100_000
ZONE_SETS = [
    ("America/New_York",),
    ("America/Chicago",),
    ("America/Denver",),
    ("America/Phoenix",),
    ("America/Los_Angeles",),
    ("America/Anchorage",),
    ("Pacific/Honolulu",),
    ("America/St_Johns",),
    ("America/Halifax",),
    ("Europe/London",),
    ("Europe/Berlin",),
    ("Asia/Kolkata",),
    ("Asia/Kathmandu",),
    ("Australia/Lord_Howe",),
    ("Pacific/Chatham",),
    ("America/New_York", "America/Chicago"),
    ("America/Denver", "America/Phoenix"),
    ("America/Chicago", "America/Denver"),
    (
        "America/St_Johns",
        "America/Halifax",
        "America/Toronto",
        "America/Winnipeg",
        "America/Edmonton",
        "America/Vancouver",
    ),
    ("America/New_York", "America/Los_Angeles"),
]
WINDOWS = [
    win.CallingWindow.parse(["mon", "tue", "wed", "thu", "fri"], "09:00", "20:00"),
    win.CallingWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat"], "10:00", "18:00"),
]


def _workload(seed: int) -> list[tuple[win.CallingWindow, tuple[str, ...], datetime]]:
    rng = random.Random(seed)
    base = datetime(2026, 10, 20, tzinfo=UTC)  # spans the autumn DST changes
    return [
        (
            rng.choice(WINDOWS),
            rng.choice(ZONE_SETS),
            base + timedelta(seconds=rng.randrange(30 * 86400)),
        )
        for _ in range(CALLS)
    ]


def _canon(zones: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(zones)))


def _time(fn, work) -> float:
    started = time.perf_counter()
    for window, zones, at in work:
        fn(window, zones, at)
    return time.perf_counter() - started


def main() -> None:
    work = _workload(1)
    win._plan.cache_clear()
    win._resolve.cache_clear()
    result = {
        "calls": CALLS,
        "zone_sets": len(ZONE_SETS),
        "windows": len(WINDOWS),
        "is_open_s": round(_time(win.is_open, work), 3),
        "next_open_cold_cache_s": round(_time(win.next_open, work), 3),
        "next_open_warm_cache_s": round(_time(win.next_open, _workload(2)), 3),
        "cached_days": sum(len(win._plan(w, z)) for w in WINDOWS for z in map(_canon, ZONE_SETS)),
    }
    win._plan.cache_clear()
    result["open_until_s"] = round(_time(win.open_until, work), 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
