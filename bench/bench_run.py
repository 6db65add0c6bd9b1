"""Runner benchmarks, each measured in this one run:

- throughput: 100,000 leads, zero-length simulated calls, 1,000 concurrent, durable run log,
  beside the raw insert rate of the same rows into the same table (the writer's limit);
- memory: 10,000 simulated calls in flight at once (real time, a few seconds each), peak RSS;
- forecast: --virtual-time over 100,000 leads for 7 days with windows and retries, wall time;
- hot reload: save -> first dial on the new revision, median over several saves.

    python bench/bench_run.py [--leads 100000] [--in-flight 10000] [--saves 5]
                              [--only throughput|memory|forecast|reload]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from bench_data import AREA_CODES

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dialer.store.connect import open_run_log  # noqa: E402
from dialer.store.writer import INTENT_COLUMNS, Intent, RunLogWriter  # noqa: E402


def midday_zone() -> str:
    """An IANA zone where it is around midday now, so real-time runs are inside the window."""
    offset = 12 - datetime.now(UTC).hour  # local = utc + offset
    offset = max(-12, min(14, offset))
    # Etc/GMT signs are inverted: Etc/GMT-5 is UTC+5
    return "Etc/GMT" + ("+" if offset < 0 else "-") + str(abs(offset)) if offset else "Etc/UTC"


def write_project(folder: Path, leads: int, zone: str, campaign: str) -> Path:
    (folder / "campaigns").mkdir(parents=True, exist_ok=True)
    (folder / "leads").mkdir(exist_ok=True)
    (folder / "dialer.yaml").write_text("quiet_hours: {start: '00:00', end: '24:00'}\n")
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT 'Lead ' || i AS prospect_name,
            '+1' || {AREA_CODES}[1 + i % {len(AREA_CODES)}]::VARCHAR || '555'
              || lpad(((i // {len(AREA_CODES)}) % 10000)::VARCHAR, 4, '0') AS phone,
            '{zone}' AS timezone
        FROM range({leads}) t(i)) TO '{folder / "leads" / "leads.csv"}' (HEADER)""")
    path = folder / "campaigns" / "bench.yaml"
    path.write_text(campaign)
    return path


CAMPAIGN = """\
name: Bench
leads: {{source: ../leads/leads.csv}}
agent: {{instructions: "x", opening: "Hi {{{{ lead.prospect_name }}}}, this call may be recorded."}}
pacing:
  max_concurrent: {concurrency}
  calls_per_minute: {cpm}
  window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "{start}", end: "{end}",
            override_reason: benchmark}}
  max_attempts: {attempts}
  retry: {{no_answer: 4h, busy: 20m, voicemail: 1d, failed: 1h}}
  ring_timeout: {ring_timeout}
simulate:
  ring_time: {{min: {ring}, max: {ring}}}
  talk_time: {{min: {talk_min}, max: {talk_max}}}
"""


def dialer(*args: str, cwd: Path) -> tuple[float, dict, os.struct_rusage]:
    """Run `dialer` in a child process; (wall seconds, JSON summary, the child's rusage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer", *args, "--json", "--quiet"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # read both pipes, then reap the child with wait4: its own rusage, not the maximum over
    # every child so far (RUSAGE_CHILDREN), which is the largest run of the bench
    with ThreadPoolExecutor(2) as pool:
        out_read, err_read = pool.submit(proc.stdout.read), pool.submit(proc.stderr.read)
        out, err = out_read.result(), err_read.result()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dialer {' '.join(args)} failed:\n{err}")
    return wall, json.loads(out.strip().splitlines()[-1]), usage


def raw_insert_rate(rows: int) -> float:
    """Rows/s of the writer's own batched insert into `attempts`, no runner around it."""
    import asyncio

    with tempfile.TemporaryDirectory() as tmp:
        con = open_run_log(Path(tmp) / "raw.duckdb")
        batch = [
            Intent(
                f"a{i}",
                "r",
                "c",
                f"+1{i:010d}",
                i,
                f"+1{i:010d}",
                "Etc/UTC",
                1,
                None,
                "rev",
                None,
                1.7e9,
                1.7e9,
            )
            for i in range(rows)
        ]

        async def go() -> float:
            async with RunLogWriter(con.cursor()) as writer:
                started = time.perf_counter()
                for i in range(0, rows, 1000):
                    await writer.write_intents(batch[i : i + 1000])
                return time.perf_counter() - started

        elapsed = asyncio.run(go())
        con.close()
    assert len(INTENT_COLUMNS) == 13
    return rows / elapsed


def throughput(folder: Path, leads: int) -> dict:
    zone = midday_zone()
    campaign = CAMPAIGN.format(
        concurrency=1000,
        cpm=100_000_000,
        start="00:00",
        end="24:00",
        attempts=1,
        ring="0s",
        talk_min="0s",
        talk_max="0s",
        ring_timeout="0s",
    )
    write_project(folder, leads, zone, campaign)
    wall, summary, _ = dialer("run", "campaigns/bench.yaml", cwd=folder)
    con = duckdb.connect(str(folder / "runs" / "dialer.duckdb"), read_only=True)
    first, last, n = con.execute(
        "SELECT epoch(min(dialed_at)), epoch(max(ended_at)), count(*) FROM attempts"
    ).fetchone()
    con.close()
    dial_span = max(last - first, 1e-9)
    return {
        "leads": leads,
        "dials": n,
        "wall_s": round(wall, 2),
        "dialing_s": round(dial_span, 2),
        "attempts_per_s": round(n / dial_span),
        "target_attempts_per_s": 10_000,
    }


def memory(folder: Path, in_flight: int) -> dict:
    campaign = CAMPAIGN.format(
        concurrency=in_flight,
        cpm=100_000_000,
        start="00:00",
        end="24:00",
        attempts=1,
        ring="1s",
        talk_min="3s",
        talk_max="5s",
        ring_timeout="5s",
    )
    write_project(folder, in_flight, midday_zone(), campaign)
    wall, summary, usage = dialer("run", "campaigns/bench.yaml", cwd=folder)
    con = duckdb.connect(str(folder / "runs" / "dialer.duckdb"), read_only=True)
    rows = con.execute("SELECT epoch(dialed_at), epoch(ended_at) FROM attempts").fetchall()
    con.close()
    events = sorted(
        [(a, 1) for a, _ in rows] + [(b, -1) for _, b in rows], key=lambda e: (e[0], e[1])
    )
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return {
        "in_flight_target": in_flight,
        "peak_in_flight": peak,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "target_rss_mb": 300,
    }


def forecast(folder: Path, leads: int) -> dict:
    campaign = CAMPAIGN.format(
        concurrency=200,
        cpm=600,
        start="09:00",
        end="17:00",
        attempts=3,
        ring="5s",
        talk_min="30s",
        talk_max="3m",
        ring_timeout="30s",
    )
    write_project(folder, leads, "America/New_York", campaign)
    wall, summary, usage = dialer(
        "run",
        "campaigns/bench.yaml",
        "--virtual-time",
        "--start",
        "2026-11-23T13:00:00+00:00",
        "--days",
        "7",
        cwd=folder,
    )
    return {
        "leads": leads,
        "days": 7,
        "dials": summary["dialed"],
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),  # the machine is shared: both
        "target_wall_s": 20,
        "left_waiting": summary["left_waiting"],
    }


def hot_reload(folder: Path, saves: int) -> dict:
    campaign = CAMPAIGN.format(
        concurrency=20,
        cpm=100_000_000,
        start="00:00",
        end="24:00",
        attempts=1,
        ring="0s",
        talk_min="0.2s",
        talk_max="0.2s",
        ring_timeout="0.2s",
    )
    path = write_project(folder, 50_000, midday_zone(), campaign)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dialer",
            "run",
            "campaigns/bench.yaml",
            "--watch",
            "--quiet",
            "--json",
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "started" in proc.stderr.readline()
    time.sleep(1.0)
    saved_at = []
    for i in range(saves):
        text = path.read_text().replace("this call may be recorded", f"recorded (v{i})")
        text = text.replace(f"recorded (v{i - 1})", f"recorded (v{i})")
        path.write_text(text)
        saved_at.append(datetime.now(UTC).timestamp())
        time.sleep(1.0)
    proc.send_signal(2)
    proc.communicate(timeout=60)
    con = duckdb.connect(str(folder / "runs" / "dialer.duckdb"), read_only=True)
    firsts = con.execute(
        "SELECT revision, epoch(min(dialed_at)) FROM attempts GROUP BY 1 ORDER BY 2"
    ).fetchall()
    con.close()
    latencies = [(t - s) * 1000 for (_, t), s in zip(firsts[1:], saved_at, strict=False)]
    return {
        "saves": saves,
        "revisions_seen": len(firsts),
        "latency_ms": [round(x, 1) for x in latencies],
        "median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "target_median_ms": 150,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--in-flight", type=int, default=10_000)
    ap.add_argument("--saves", type=int, default=5)
    ap.add_argument("--only", choices=["throughput", "memory", "forecast", "reload"])
    args = ap.parse_args()
    result: dict = {"benchmark": "run"}
    with tempfile.TemporaryDirectory(prefix="dialer-bench-") as tmp:
        root = Path(tmp)
        if args.only in (None, "throughput"):
            result["throughput"] = throughput(root / "t", args.leads)
            result["throughput"]["raw_insert_rows_per_s"] = round(raw_insert_rate(args.leads))
        if args.only in (None, "memory"):
            result["memory"] = memory(root / "m", args.in_flight)
        if args.only in (None, "forecast"):
            result["forecast"] = forecast(root / "f", args.leads)
        if args.only in (None, "reload"):
            result["hot_reload"] = hot_reload(root / "r", args.saves)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
