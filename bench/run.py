"""Run every benchmark and write their JSON results to bench/results/ (one file each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_startup.py", "bench_plan.py", "bench_window.py", "bench_rate.py", "bench_run.py"]


def main() -> None:
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    for name in BENCHES:
        res = subprocess.run([sys.executable, str(HERE / name)], capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{name} failed:\n{res.stderr}", file=sys.stderr)
            sys.exit(1)
        data = json.loads(res.stdout)
        (out_dir / name.replace(".py", ".json")).write_text(json.dumps(data, indent=2) + "\n")
        print(json.dumps(data))


if __name__ == "__main__":
    main()
