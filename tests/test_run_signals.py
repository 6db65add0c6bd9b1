"""A real `dialer run` process: SIGKILL and resume, Ctrl-C once and twice, the run-log lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from . import runlog
from .conftest import run_dialer, write_campaign

# Calls long enough to be in flight when the test acts; windows open at any hour so the test
# does not depend on the time of day it runs (the project's quiet hours are widened on purpose).
CAMPAIGN = """\
name: Signals
leads:
  source: ../leads/sample.csv
agent:
  instructions: "x"
  opening: "Hi, this call may be recorded."
pacing:
  max_concurrent: 4
  calls_per_minute: 600
  window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00",
            override_reason: "test project"}}
  max_attempts: 2
  retry: {{no_answer: 1d, busy: 1d, voicemail: 1d, failed: 1d}}
simulate:
  answer: 1.0
  busy: 0
  no_answer: 0
  voicemail: 0
  failed: 0
  ring_time: {{min: 0s, max: 0s}}
  talk_time: {{min: {talk}, max: {talk}}}
"""


@pytest.fixture
def signals_project(project):
    (project / "dialer.yaml").write_text("quiet_hours: {start: '00:00', end: '24:00'}\n")
    return project


def start(project, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", "campaigns/c.yaml", "--quiet", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_started(proc):
    line = proc.stderr.readline()
    assert "started" in line, line + proc.stderr.read()


def stop(proc, timeout=30):
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def statuses(project):
    con = duckdb.connect(str(project / "runs" / "dialer.duckdb"), read_only=True)
    out = dict(con.execute("SELECT status, count(*) FROM attempts GROUP BY 1").fetchall())
    runs = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()]
    con.close()
    return out, runs


def test_sigkill_then_resume(signals_project):
    project = signals_project
    write_campaign(project, CAMPAIGN.format(talk="60s"))
    proc = start(project)
    wait_started(proc)
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    stop(proc)
    before, _ = statuses(project)
    assert before == {"dialing": 4}, before  # durable intents, no results
    write_campaign(project, CAMPAIGN.format(talk="0s"))
    res = run_dialer("run", "campaigns/c.yaml", "--json", cwd=project)
    assert res.returncode == 0, res.stderr
    assert "4 dial(s) from a crashed run had no result: marked unknown" in res.stderr
    after, runs = statuses(project)
    assert runs == ["crashed", "completed"]
    assert after["unknown"] == 4
    rows = runlog.attempts(project / "runs" / "dialer.duckdb")
    unknown = {r["phone"] for r in rows if r["status"] == "unknown"}
    for phone in unknown:  # an unknown result is never redialed automatically
        assert [r["status"] for r in rows if r["phone"] == phone] == ["unknown"]
    assert max(len(v) for v in runlog.by_lead(rows).values()) == 1
    # --retry-unknown opts in: the four are dialed again, once
    res = run_dialer("run", "campaigns/c.yaml", "--retry-unknown", "--json", cwd=project)
    assert res.returncode == 0, res.stderr
    rows = runlog.attempts(project / "runs" / "dialer.duckdb")
    assert {p for p, v in runlog.by_lead(rows).items() if len(v) == 2} == unknown


def test_ctrl_c_once_lets_calls_finish(signals_project):
    project = signals_project
    write_campaign(project, CAMPAIGN.format(talk="3s"))
    proc = start(project)
    wait_started(proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = stop(proc)
    assert proc.returncode == 0, err
    assert "stopping: no new dials" in err
    counts, runs = statuses(project)
    assert runs == ["stopped"]
    assert set(counts) == {"completed"} and counts["completed"] == 4


def test_ctrl_c_twice_hangs_up(signals_project):
    project = signals_project
    write_campaign(project, CAMPAIGN.format(talk="60s"))
    proc = start(project)
    wait_started(proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = stop(proc)
    assert proc.returncode == 0, err
    counts, runs = statuses(project)
    assert counts == {"canceled": 4} and runs == ["stopped"]


def test_second_process_gets_a_clear_lock_error(signals_project):
    project = signals_project
    write_campaign(project, CAMPAIGN.format(talk="60s"))
    proc = start(project)
    try:
        wait_started(proc)
        res = run_dialer("run", "campaigns/c.yaml", cwd=project)
        assert res.returncode == 1
        assert res.stderr.strip().startswith(
            f"runs/dialer.duckdb: run log is in use by process {proc.pid}"
        ), res.stderr
        assert "Traceback" not in res.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        stop(proc)
