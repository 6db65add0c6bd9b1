"""`dialer run` on the simulator: pacing and compliance proven from the run log."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, time

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.runner.leadqueue import LeadQueue, LeadState, QueueRules
from dialer.schedule.clock import run_virtual
from dialer.schedule.rate import RateLimiter
from dialer.schedule.window import CallingWindow
from dialer.store import writer

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


def logged(db) -> tuple[list, ...]:
    """All a run logged, attempts named by their number in the run (run ids differ)."""
    con = duckdb.connect(str(db), read_only=True)
    n = "split_part(attempt_id, '-', 2)"
    queries = (
        f"SELECT {n}, * EXCLUDE (attempt_id, run_id) FROM attempts ORDER BY 1",
        f"SELECT {n}, seq, spoken_at, role, text FROM transcripts ORDER BY 1, 2",
        f"SELECT phone, added_at, source, reason, {n} FROM dnc ORDER BY 1",
        "SELECT occurred_at, kind FROM events ORDER BY 1, 2",
    )
    out = tuple(con.execute(q).fetchall() for q in queries)
    con.close()
    return out


def test_a_forecast_s_log_does_not_depend_on_how_its_writes_are_batched(project, monkeypatch):
    # A forecast commits in batches and holds a dial whose result is not in yet for the next
    # batch, so each attempt is one whole row; before DuckDB 2.0 rows go as lists, not through a
    # query appender. However the writes are cut and sent, the log is the same.
    write_campaign(project, campaign_text(max_concurrent=4))
    args = ("campaigns/c.yaml", "--virtual-time", "--start", MONDAY, "--days", "7", "--seed", "3")
    run_json(*args, "--db", "runs/one.duckdb")  # this small run fits in one batch
    monkeypatch.setattr(writer.RunLogWriter, "SYNC_BATCH", 3)
    run_json(*args, "--db", "runs/many.duckdb")
    monkeypatch.setattr(writer, "_APPENDER", False)
    run_json(*args, "--db", "runs/lists.duckdb")
    attempts, transcripts, dnc, events = one = logged(project / "runs/one.duckdb")
    assert len(attempts) > 20 and transcripts and dnc and len(events) == 2
    rows = runlog.attempts(project / "runs/many.duckdb")
    assert rows and all(r["status"] != "dialing" and r["ended"] for r in rows)
    assert logged(project / "runs/many.duckdb") == one
    assert logged(project / "runs/lists.duckdb") == one


def test_a_real_time_run_logs_the_same_with_or_without_the_appender(project, monkeypatch):
    # real time: intents are inserted and committed before the dial, results update them later
    (project / "dialer.yaml").write_text("quiet_hours: {start: '00:00', end: '24:00'}\n")
    text = campaign_text(
        max_concurrent=4, cpm=6000, start="00:00", end="24:00", attempts=1, answer=0.5
    ).replace("pacing:", "pacing:\n  ring_timeout: 0s", 1)
    text = text.replace("window: {", "window: {override_reason: test, ")
    text += "  ring_time: {min: 0s, max: 0s}\n  talk_time: {min: 0s, max: 0s}\n"
    write_campaign(project, text)
    run_json("campaigns/c.yaml", "--db", "runs/appender.duckdb")
    monkeypatch.setattr(writer, "_APPENDER", False)
    run_json("campaigns/c.yaml", "--db", "runs/lists.duckdb")

    def outcomes(db):
        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute(
            "SELECT phone, attempt_no, status, disposition, sip_status, "
            "(SELECT count(*) FROM transcripts t WHERE t.attempt_id = a.attempt_id) "
            "FROM attempts a ORDER BY phone"
        ).fetchall()
        con.close()
        return rows

    rows = outcomes(project / "runs/appender.duckdb")
    assert len(rows) > 10 and all(r[2] != "dialing" for r in rows)
    assert outcomes(project / "runs/lists.duckdb") == rows


ALWAYS = CallingWindow(frozenset(range(7)), time(0, 0), time(23, 59))


def _lead(order: int) -> LeadState:
    phone = f"+1212555{order:04d}"
    return LeadState(order, order, phone, ("UTC",), {"phone": phone})


def test_a_waiting_queue_wakes_for_a_lead_ready_sooner():
    # next() waits for the head; a lead pushed to be ready sooner is dialed at its own time,
    # one pushed for later waits its turn
    async def main(clock) -> list[tuple[int, float, float]]:
        queue = LeadQueue(clock, QueueRules(ALWAYS, 3), RateLimiter(600), set(), wait=True)
        t0 = clock.timestamp()
        queue.push(_lead(1), t0 + 3600)
        first = asyncio.ensure_future(queue.next())
        await clock.sleep(60)
        queue.push(_lead(2), t0 + 7200)
        queue.push(_lead(3), t0 + 600)
        await clock.sleep(1)
        queue.push(_lead(4), t0 + 1200)
        dials = []
        for _ in range(4):
            lead = await first if not dials else await queue.next()
            dials.append((lead.order, clock.timestamp() - t0, lead.ready_at - t0))
        return dials

    got = run_virtual(main, datetime(2026, 11, 23, 1, tzinfo=UTC))
    assert got == [(3, 600, 600), (4, 1200, 1200), (1, 3600, 3600), (2, 7200, 7200)]


def test_a_template_reading_a_missing_lead_column_is_refused_before_the_run(project):
    """The simulator renders only the opening: without this check the instructions' mistake
    would surface at the first real dial. Nothing is logged as a run."""
    write_campaign(
        project,
        "name: Missing column\nleads: {source: ../leads/sample.csv}\n"
        'agent: {instructions: "Hi {{ lead.nickname }}", opening: "This call may be recorded."}\n',
    )
    res = cli("run", "campaigns/c.yaml", "--quiet")
    assert res.exit_code == 1
    assert "campaigns/c.yaml:3: agent.instructions: lead.nickname is not a lead column" in (
        res.stderr
    )
    con = duckdb.connect(str(project / "runs" / "dialer.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    con.close()
