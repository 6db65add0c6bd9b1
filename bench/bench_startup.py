"""Start-up benchmark: wall time of `dialer --help` and `dialer validate` on the shipped campaigns.

    python bench/bench_startup.py [--repeat 10]

Prints one JSON object with the median and best of each; the issue's budget is 0.6 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(args: list[str], repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "dialer", *args],
            cwd=REPO,
            check=True,
            capture_output=True,
            env={"DIALER_DB": "/nonexistent/dialer.duckdb", "PATH": "/usr/bin:/bin"},
        )
        runs.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(runs), 3), "best_s": round(min(runs), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    timed(["schema"], 1)  # warm the file cache
    python = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        python.append(time.perf_counter() - started)
    result = {
        "benchmark": "startup",
        "python_itself_s": round(statistics.median(python), 3),
        "help": timed(["--help"], args.repeat),
        "validate_shipped_campaigns": timed(["validate"], args.repeat),
        "budget_s": 0.6,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
