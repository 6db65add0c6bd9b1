"""Checks of pacing and compliance rules, computed from a run log (used by several tests)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb


def attempts(db: Path) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    cur = con.execute(
        "SELECT attempt_id, run_id, campaign, lead_key, phone, lead_timezone, attempt_no, status, "
        "disposition, variant, revision, epoch(dialed_at) AS dialed, epoch(ended_at) AS ended, "
        "epoch(callback_at) AS callback FROM attempts ORDER BY dialed_at, attempt_id"
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return rows


def max_in_flight(rows: list[dict]) -> int:
    """Most calls in flight at one instant (an end at t frees its slot before a start at t)."""
    points = []
    for r in rows:
        points.append((r["dialed"], 1))
        points.append((r["ended"] if r["ended"] is not None else float("inf"), -1))
    points.sort(key=lambda p: (p[0], p[1]))
    level = peak = 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    return peak


def max_dials_in_window(rows: list[dict], seconds: float = 60.0) -> int:
    times = sorted(r["dialed"] for r in rows)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


def outside_window(rows: list[dict], days: set[int], start: str, end: str) -> list[dict]:
    """Dials whose lead-local time is not on an allowed day within [start, end)."""
    bad = []
    for r in rows:
        local = datetime.fromtimestamp(r["dialed"], UTC).astimezone(ZoneInfo(r["lead_timezone"]))
        hhmm = local.strftime("%H:%M")
        if local.weekday() not in days or not (start <= hhmm < end):
            bad.append(r | {"local": local.isoformat()})
    return bad


def by_lead(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["lead_key"]].append(r)
    return out


def early_retries(rows: list[dict], delays: dict[str, float]) -> list[tuple[dict, dict]]:
    """Consecutive attempts of a lead where the second came before the configured delay."""
    bad = []
    for attempts_of_lead in by_lead(rows).values():
        attempts_of_lead.sort(key=lambda r: r["dialed"])
        for prev, nxt in zip(attempts_of_lead, attempts_of_lead[1:], strict=False):
            if prev["status"] == "completed" and prev["disposition"] == "callback":
                need = (
                    prev["callback"]
                    if prev["callback"]
                    else prev["ended"] + delays.get("callback", 0)
                )
            else:
                need = prev["ended"] + delays.get(prev["status"], float("inf"))
            if nxt["dialed"] + 1e-6 < need:
                bad.append((prev, nxt))
    return bad
