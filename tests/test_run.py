"""`dialer run` on the simulator: pacing and compliance proven from the run log."""

from __future__ import annotations

import json
import uuid

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import runlog
from .conftest import cli, write_campaign

MONDAY = "2026-11-23T13:00:00+00:00"  # 08:00 in New York


def campaign_text(
    max_concurrent=3,
    cpm=20,
    start="09:00",
    end="17:00",
    days="[mon, tue, wed]",
    attempts=3,
    retry="{no_answer: 2h, busy: 20m, voicemail: 1d, failed: 1h}",
    answer=0.3,
    extra="",
):
    return f"""\
name: Run test
leads:
  source: ../leads/sample.csv
suppress: [../leads/dnc.csv]
agent:
  instructions: "You are {{{{ lead.resource_name }}}}."
  opening: "Hi {{{{ lead.prospect_name }}}}, this call may be recorded."
pacing:
  max_concurrent: {max_concurrent}
  calls_per_minute: {cpm}
  window: {{days: {days}, start: "{start}", end: "{end}"}}
  max_attempts: {attempts}
  retry: {retry}
simulate:
  answer: {answer}
  busy: 0.2
  no_answer: 0.3
  voicemail: 0.1
  failed: 0.1
  dispositions: {{callback: 3, not_interested: 3, do_not_call: 2, meeting_booked: 1}}
{extra}"""


def run_json(*args):
    res = cli("run", *args, "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_virtual_week_obeys_every_rule(project):
    write_campaign(project, campaign_text())
    summary = run_json("campaigns/c.yaml", "--virtual-time", "--start", MONDAY, "--days", "7")
    assert summary["status"] == "completed"
    rows = runlog.attempts(project / "runs" / "dialer.duckdb")
    assert len(rows) == summary["dialed"] > 20
    assert all(r["status"] != "dialing" for r in rows)
    assert runlog.max_in_flight(rows) <= 3
    assert runlog.max_dials_in_window(rows) <= 20
    assert runlog.outside_window(rows, {0, 1, 2}, "09:00", "17:00") == []
    assert max(len(v) for v in runlog.by_lead(rows).values()) <= 3
    delays = {"no_answer": 7200, "busy": 1200, "voicemail": 86400, "failed": 3600}
    assert runlog.early_retries(rows, delays) == []
    dialed = {r["phone"] for r in rows}
    assert "+16465550122" not in dialed  # on leads/dnc.csv
    assert "+18005550100" not in dialed  # toll-free: its zones never share a window
    # an opt-out is never dialed again, and lands in the dnc table
    opted = [r for r in rows if r["disposition"] == "do_not_call"]
    assert opted, "the simulator should produce opt-outs at these weights"
    for r in opted:
        assert not [x for x in rows if x["phone"] == r["phone"] and x["dialed"] > r["dialed"]]
    con = duckdb.connect(str(project / "runs" / "dialer.duckdb"), read_only=True)
    dnc = {p for (p,) in con.execute("SELECT phone FROM dnc").fetchall()}
    transcripts = con.execute("SELECT count(*) FROM transcripts").fetchone()[0]
    runs = con.execute("SELECT status, revision FROM runs").fetchall()
    con.close()
    assert {r["phone"] for r in opted} <= dnc
    assert transcripts > 0
    assert runs[0][0] == "completed" and runs[0][1] == rows[0]["revision"]


def test_same_seed_same_log_and_resume_adds_nothing(project):
    write_campaign(project, campaign_text())
    args = ("campaigns/c.yaml", "--virtual-time", "--start", MONDAY, "--days", "7", "--seed", "7")
    first = run_json(*args, "--db", "runs/a.duckdb")
    second = run_json(*args, "--db", "runs/b.duckdb")
    assert first["statuses"] == second["statuses"] and first["dialed"] == second["dialed"]
    a = [(r["phone"], r["status"], r["dialed"]) for r in runlog.attempts(project / "runs/a.duckdb")]
    b = [(r["phone"], r["status"], r["dialed"]) for r in runlog.attempts(project / "runs/b.duckdb")]
    assert a == b
    # the same week again on the same log: every lead is exhausted, done, or beyond the horizon
    again = run_json(*args, "--db", "runs/a.duckdb")
    rows = runlog.attempts(project / "runs/a.duckdb")
    assert max(len(v) for v in runlog.by_lead(rows).values()) <= 3
    assert again["dialed"] == len(rows) - len(a)


def test_max_calls_and_concurrency_flags(project):
    write_campaign(project, campaign_text(max_concurrent=5))
    summary = run_json(
        "campaigns/c.yaml",
        "--virtual-time",
        "--start",
        MONDAY,
        "--days",
        "1",
        "--max-calls",
        "4",
        "--concurrency",
        "1",
    )
    assert summary["dialed"] == 4
    rows = runlog.attempts(project / "runs" / "dialer.duckdb")
    assert runlog.max_in_flight(rows) == 1


def test_project_quiet_hours_and_frequency_cap(project):
    (project / "dialer.yaml").write_text(
        "quiet_hours: {start: '10:00', end: '12:00'}\nfrequency_cap: {attempts: 1, per: 7d}\n"
    )
    write_campaign(project, campaign_text(answer=0.0))
    run_json("campaigns/c.yaml", "--virtual-time", "--start", MONDAY, "--days", "7")
    rows = runlog.attempts(project / "runs" / "dialer.duckdb")
    assert rows
    assert runlog.outside_window(rows, {0, 1, 2}, "10:00", "12:00") == []
    assert max(len(v) for v in runlog.by_lead(rows).values()) == 1


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    max_concurrent=st.integers(1, 6),
    cpm=st.integers(1, 40),
    start_hour=st.integers(8, 14),
    length=st.integers(1, 6),
    attempts=st.integers(1, 4),
    busy=st.sampled_from(["1m", "20m", "3h"]),
    no_answer=st.sampled_from(["5m", "4h", "1d"]),
    answer=st.floats(0.0, 0.8),
    seed=st.integers(0, 1000),
)
def test_random_campaigns_never_break_pacing(
    project, max_concurrent, cpm, start_hour, length, attempts, busy, no_answer, answer, seed
):
    end_hour = min(start_hour + length, 21)
    db = project / "runs" / f"h{uuid.uuid4().hex}.duckdb"  # examples share the project
    write_campaign(
        project,
        campaign_text(
            max_concurrent=max_concurrent,
            cpm=cpm,
            start=f"{start_hour:02d}:00",
            end=f"{end_hour:02d}:00",
            days="[mon, tue, wed, thu, fri, sat, sun]",
            attempts=attempts,
            retry=f"{{no_answer: {no_answer}, busy: {busy}, failed: 30m, callback: 2h}}",
            answer=round(answer, 2),
        ),
    )
    run_json(
        "campaigns/c.yaml",
        "--virtual-time",
        "--start",
        MONDAY,
        "--days",
        "3",
        "--seed",
        str(seed),
        "--db",
        str(db),
    )
    rows = runlog.attempts(db)
    assert rows
    assert runlog.max_in_flight(rows) <= max_concurrent
    assert runlog.max_dials_in_window(rows) <= cpm
    assert (
        runlog.outside_window(rows, set(range(7)), f"{start_hour:02d}:00", f"{end_hour:02d}:00")
        == []
    )
    assert max(len(v) for v in runlog.by_lead(rows).values()) <= attempts
    seconds = {"1m": 60, "20m": 1200, "3h": 10800, "5m": 300, "4h": 14400, "1d": 86400}
    delays = {
        "busy": seconds[busy],
        "no_answer": seconds[no_answer],
        "failed": 1800,
        "callback": 7200,
    }
    assert runlog.early_retries(rows, delays) == []
