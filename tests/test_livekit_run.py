"""`dialer run --backend livekit` end to end: real livekit-api client, Twirp fake, a worker."""

from __future__ import annotations

import json

import duckdb
import pytest
from livekit import api  # noqa: TID253 - tests decode the real protobufs

from dialer.livekit.spec import CallReport, TranscriptLine

from . import runlog
from .conftest import cli, write_campaign
from .twirp_fake import TwirpError, TwirpFake

LEADS = """\
prospect_name,phone,timezone,resource_name
Avery Busy,+1 201-555-0123,America/New_York,Sam
Blake Talks,+1 212-555-0199,America/New_York,Sam
Casey Stop,+1 312-555-0142,America/Chicago,Sam
Devon Later,+1 415-555-0111,America/Los_Angeles,Sam
"""

CAMPAIGN = """\
name: LiveKit test
leads:
  source: ../leads/lk.csv
agent:
  voice: Puck
  model: gemini-test-live
  temperature: 0.4
  instructions: "You are {{ lead.resource_name }}."
  opening: "Hi {{ lead.prospect_name }}, this call may be recorded."
pacing:
  max_concurrent: 4
  calls_per_minute: 600
  window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00",
           override_reason: "test project"}
  max_attempts: 1
  ring_timeout: 20s
  max_call_duration: 1m
telephony:
  sip_trunk_id: ST_test
  caller_id: "+15550001111"
  agent_name: dialer-test
  noise_cancellation: false
"""

BUSY, TALKS, STOP, LATER = "+12015550123", "+12125550199", "+13125550142", "+14155550111"


def worker(spec):
    """What `dialer agent` would report for each lead of LEADS."""
    if spec.phone == BUSY:
        return CallReport(spec.attempt_id, "busy", sip_status=486, error="486 Busy Here")
    lines = [
        TranscriptLine("agent", spec.opening, 1.0),
        TranscriptLine("lead", "Sure, tell me more.", 2.0),
    ]
    if spec.phone == STOP:
        lines[1] = TranscriptLine("lead", "Take me off your list.", 2.0)
        return CallReport(
            spec.attempt_id,
            "completed",
            "do_not_call",
            answered_at=1.0,
            ended_at=3.0,
            sip_status=200,
            transcript=lines,
        )
    if spec.phone == LATER:
        return CallReport(
            spec.attempt_id,
            "completed",
            "callback",
            callback_at="2030-01-02T10:00:00-08:00",
            answered_at=1.0,
            ended_at=3.0,
            sip_status=200,
            transcript=lines,
        )
    return CallReport(
        spec.attempt_id,
        "completed",
        "interested",
        answered_at=1.0,
        ended_at=3.0,
        sip_status=200,
        transcript=lines,
    )


@pytest.fixture
def lk_project(project, monkeypatch):
    (project / "dialer.yaml").write_text("quiet_hours: {start: '00:00', end: '24:00'}\n")
    (project / "leads" / "lk.csv").write_text(LEADS)
    write_campaign(project, CAMPAIGN)
    monkeypatch.setenv("DIALER_REPORT_PORT", "0")
    return project


def use(monkeypatch, fake: TwirpFake) -> None:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)


def run_livekit(*extra):
    res = cli("run", "campaigns/c.yaml", "--backend", "livekit", "--json", *extra)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_run_end_to_end(lk_project, monkeypatch):
    with TwirpFake(worker) as fake:
        use(monkeypatch, fake)
        summary = run_livekit()
    assert summary["dialed"] == 4
    db = lk_project / "runs" / "dialer.duckdb"
    rows = {r["phone"]: r for r in runlog.attempts(db)}
    assert rows[BUSY]["status"] == "busy"
    assert rows[TALKS]["status"] == "completed"
    assert rows[TALKS]["disposition"] == "interested"
    assert rows[STOP]["disposition"] == "do_not_call"
    assert rows[LATER]["disposition"] == "callback"
    assert rows[LATER]["callback"] == 1893607200  # 2030-01-02T18:00Z
    con = duckdb.connect(str(db), read_only=True)
    sip = dict(con.execute("SELECT phone, sip_status FROM attempts").fetchall())
    assert sip[BUSY] == 486 and sip[TALKS] == 200
    lines = con.execute(
        "SELECT role, text FROM transcripts WHERE attempt_id = ? ORDER BY seq",
        [rows[TALKS]["attempt_id"]],
    ).fetchall()
    assert lines == [
        ("agent", "Hi Blake Talks, this call may be recorded."),
        ("user", "Sure, tell me more."),
    ]
    dnc = con.execute("SELECT phone, source FROM dnc").fetchall()
    con.close()
    assert [p for p, _ in dnc] == [STOP]
    # every report was acknowledged once; the dispatches carried the real spec
    assert fake.report_answers == [200] * 4
    dispatches = fake.calls("AgentDispatchService/CreateDispatch")
    assert len(dispatches) == 4
    for d in dispatches:
        assert isinstance(d, api.CreateAgentDispatchRequest)
        assert d.restart_policy == api.JobRestartPolicy.JRP_NEVER
        assert d.agent_name == "dialer-test"
        spec = json.loads(d.metadata)
        assert d.room == f"dialer-{spec['attempt_id']}"
        assert spec["sip_trunk_id"] == "ST_test" and spec["caller_id"] == "+15550001111"
        assert spec["voice"] == "Puck" and spec["temperature"] == 0.4
        assert spec["model"] == "gemini-test-live" and spec["noise_cancellation"] is False
        assert spec["max_call_duration"] == 60 and spec["ring_timeout"] == 20
        assert spec["report_url"].startswith("http://127.0.0.1:")
        assert spec["report_url"].endswith("/reports")
    by_phone = {json.loads(d.metadata)["phone"]: json.loads(d.metadata) for d in dispatches}
    assert by_phone[TALKS]["opening"] == "Hi Blake Talks, this call may be recorded."
    assert by_phone[TALKS]["instructions"].startswith("You are Sam.")
    assert fake.calls("RoomService/DeleteRoom") == []  # nobody was hung up on


def test_watchdog_closes_a_silent_call(lk_project, monkeypatch):
    # one lead whose worker never reports; ring + max + slack shrunk to 0 so the watchdog fires
    text = CAMPAIGN.replace("ring_timeout: 20s", "ring_timeout: 0s")
    text = text.replace("max_call_duration: 1m", "max_call_duration: 0s")
    text = text.replace(
        "../leads/lk.csv", "../leads/lk.csv\n  where: \"prospect_name = 'Blake Talks'\""
    )
    write_campaign(lk_project, text)
    monkeypatch.setenv("DIALER_WATCHDOG_SLACK", "0")
    with TwirpFake(lambda spec: None) as fake:
        use(monkeypatch, fake)
        summary = run_livekit()
    assert summary["statuses"] == {"unknown": 1}
    rows = {r["phone"]: r for r in runlog.attempts(lk_project / "runs" / "dialer.duckdb")}
    assert rows[TALKS]["status"] == "unknown"
    con = duckdb.connect(str(lk_project / "runs" / "dialer.duckdb"), read_only=True)
    error = con.execute("SELECT error FROM attempts WHERE phone = ?", [TALKS]).fetchone()[0]
    con.close()
    assert "no report within" in error
    deleted = [r.room for r in fake.calls("RoomService/DeleteRoom")]
    assert deleted == [f"dialer-{rows[TALKS]['attempt_id']}"]


def test_dispatch_refused_is_a_failed_dial(lk_project, monkeypatch):
    refuse = TwirpError(403, "permission_denied", "agent dispatch not allowed")
    with TwirpFake(worker, errors={"AgentDispatchService/CreateDispatch": refuse}) as fake:
        use(monkeypatch, fake)
        summary = run_livekit()
    assert summary["statuses"] == {"failed": 4}
    con = duckdb.connect(str(lk_project / "runs" / "dialer.duckdb"), read_only=True)
    errors = {e for (e,) in con.execute("SELECT error FROM attempts").fetchall()}
    con.close()
    assert errors == {"dispatch refused by LiveKit: permission_denied: agent dispatch not allowed"}


def test_livekit_unreachable_is_a_failed_dial(lk_project, monkeypatch):
    with TwirpFake() as fake:
        env = fake.env()
    for name, value in env.items():  # the fake has stopped: its port refuses connections
        monkeypatch.setenv(name, value)
    summary = run_livekit()
    assert summary["statuses"] == {"failed": 4}
    con = duckdb.connect(str(lk_project / "runs" / "dialer.duckdb"), read_only=True)
    (error,) = con.execute("SELECT DISTINCT error FROM attempts").fetchone()
    con.close()
    assert error.startswith("dispatch failed, LiveKit unreachable:")


def test_missing_credentials_is_one_line(lk_project, monkeypatch):
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    (lk_project / ".env").write_text("LIVEKIT_URL=http://127.0.0.1:9\n")
    res = cli("run", "campaigns/c.yaml", "--backend", "livekit")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        "LiveKit credentials missing: LIVEKIT_API_KEY, LIVEKIT_API_SECRET "
        "(hint: set them in the environment or the project's .env (see `dialer doctor`))"
    ]
    assert (
        not (lk_project / "runs" / "dialer.duckdb").exists()
        or runlog.attempts(lk_project / "runs" / "dialer.duckdb") == []
    )


def test_credentials_from_dotenv(lk_project, monkeypatch):
    with TwirpFake(worker) as fake:
        for name in fake.env():
            monkeypatch.delenv(name, raising=False)
        (lk_project / ".env").write_text("".join(f"{k}={v}\n" for k, v in fake.env().items()))
        summary = run_livekit()
    assert summary["dialed"] == 4
    assert len(fake.calls("AgentDispatchService/CreateDispatch")) == 4


def test_single_call_over_livekit(lk_project, monkeypatch):
    with TwirpFake(worker) as fake:
        use(monkeypatch, fake)
        res = cli("call", "campaigns/c.yaml", "--lead", "2", "--backend", "livekit", "--json")
    assert res.exit_code == 0, res.stderr
    call = json.loads(res.stdout.strip().splitlines()[-1])["call"]
    assert (call["phone"], call["status"], call["disposition"]) == (
        TALKS,
        "completed",
        "interested",
    )
    (dispatch,) = fake.calls("AgentDispatchService/CreateDispatch")
    spec = json.loads(dispatch.metadata)
    assert spec["phone"] == TALKS and spec["attempt_id"] == call["attempt_id"]
    assert "lead 2 Blake Talks: dispatched" in res.stderr


def test_a_late_report_replaces_unknown_and_its_opt_out_holds(lk_project, monkeypatch):
    # the watchdog gives up at once; the worker's report (an opt-out) comes half a second later
    text = CAMPAIGN.replace("ring_timeout: 20s", "ring_timeout: 0s")
    text = text.replace("max_call_duration: 1m", "max_call_duration: 0s")
    text = text.replace(
        "../leads/lk.csv", "../leads/lk.csv\n  where: \"prospect_name = 'Casey Stop'\""
    )
    write_campaign(lk_project, text)
    monkeypatch.setenv("DIALER_WATCHDOG_SLACK", "0")
    monkeypatch.setenv("DIALER_LATE_REPORT_GRACE", "20")
    with TwirpFake(worker, report_delay=0.5) as fake:
        use(monkeypatch, fake)
        summary = run_livekit()
    assert fake.report_answers == [200]
    assert summary["statuses"] == {"completed": 1}
    db = lk_project / "runs" / "dialer.duckdb"
    (row,) = runlog.attempts(db)
    assert (row["status"], row["disposition"]) == ("completed", "do_not_call")
    con = duckdb.connect(str(db), read_only=True)
    dnc = con.execute("SELECT phone, source, attempt_id FROM dnc").fetchall()
    kinds = [k for (k,) in con.execute("SELECT kind FROM events ORDER BY occurred_at").fetchall()]
    lines = con.execute("SELECT count(*) FROM transcripts").fetchone()[0]
    con.close()
    assert dnc == [(STOP, "opt_out", row["attempt_id"])]
    assert "late_result" in kinds and kinds[-1] == "run_finished"
    assert lines == 2
    # the next run does not dial the number that opted out
    write_campaign(lk_project, text.replace("max_attempts: 1", "max_attempts: 3"))
    with TwirpFake(worker) as fake:
        use(monkeypatch, fake)
        assert run_livekit()["dialed"] == 0
