"""`dialer call`: one call now, outside pacing, never outside suppression, caps or the window."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb

from . import runlog
from .conftest import cli, run_dialer, write_campaign

# Zones a few hours apart all round the clock: one of them is always mid-afternoon, one at night.
ZONES = (
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Tokyo",
    "Pacific/Auckland",
)


def zone_where(hours: range) -> str:
    """A zone whose local hour is in `hours` right now."""
    now = datetime.now(UTC)
    for name in ZONES:
        if now.astimezone(ZoneInfo(name)).hour in hours:
            return name
    raise AssertionError(f"no zone at local hours {hours}")


OPEN, CLOSED = "+1 201-555-0123", "+1 212-555-0199"
DNC, EXTRA = "+1 646-555-0122", "+1 312-555-0142"


def campaign(attempts: int = 3, answer: float = 0.0, busy: float = 1.0, picks: str = "") -> str:
    """`picks`: the simulator's disposition weights, e.g. "{interested: 1}"."""
    return f"""\
name: Call test
leads:
  source: ../leads/call.csv
suppress: [../leads/dnc.csv]
agent:
  instructions: "You are {{{{ lead.resource_name }}}}."
  opening: "Hi {{{{ lead.prospect_name }}}}, this call may be recorded."
pacing:
  max_concurrent: 1
  calls_per_minute: 1
  window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "10:00", end: "18:00"}}
  max_attempts: {attempts}
  retry: {{busy: 1d, no_answer: 1d}}
simulate:
  answer: {answer}
  busy: {busy}
  no_answer: 0
  voicemail: 0
  failed: 0
  ring_time: {{min: 0s, max: 0s}}
  talk_time: {{min: 0s, max: 0s}}
{"  dispositions: " + picks if picks else ""}
dispositions: [interested, callback, do_not_call]
"""


def build_call_project(project):
    afternoon, night = zone_where(range(12, 16)), zone_where(range(1, 6))
    (project / "leads" / "call.csv").write_text(
        "prospect_name,phone,timezone,resource_name\n"
        f"Open Lead,{OPEN},{afternoon},Sam\n"
        f"Night Lead,{CLOSED},{night},Sam\n"
        f"Listed Lead,{DNC},{afternoon},Sam\n"
        f"Same Number,{OPEN},{afternoon},Sam\n"
        f"Extra Lead,{EXTRA},{afternoon},Sam\n"
    )
    write_campaign(project, campaign())
    return project


def call_json(*args):
    res = cli("call", "campaigns/c.yaml", "--json", *args)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def refused(*args) -> str:
    res = cli("call", "campaigns/c.yaml", *args)
    assert res.exit_code == 1, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def attempts(project):
    db = project / "runs" / "dialer.duckdb"
    return runlog.attempts(db) if db.exists() else []


def test_call_dials_the_lead_once_and_logs_it(call_project):
    summary = call_json("--lead", "1")
    assert summary["dialed"] == 1
    call = summary["call"]
    assert call["lead_row"] == 1 and call["phone"] == "+12015550123"
    assert call["status"] == "busy" and call["sip_status"] == 486
    rows = attempts(call_project)
    assert [(r["phone"], r["status"], r["attempt_no"]) for r in rows] == [
        ("+12015550123", "busy", 1)
    ]
    # outside pacing: the retry delay (1d) and the rate (1/min) do not hold a single call back,
    # and --phone finds the same lead in any common format
    again = call_json("--phone", "(201) 555-0123")
    assert again["call"]["lead_row"] == 1
    assert [r["attempt_no"] for r in attempts(call_project)] == [1, 2]


def test_call_shows_the_result_and_transcript(call_project):
    write_campaign(
        call_project,
        campaign(answer=1.0, busy=0.0, picks="{interested: 1, callback: 0, do_not_call: 0}"),
    )
    res = cli("call", "campaigns/c.yaml", "--lead", "5")
    assert res.exit_code == 0, res.stderr
    assert "lead 5 +13125550142: completed / interested" in res.stdout
    assert "agent: Hi Extra Lead, this call may be recorded." in res.stdout
    # the live state goes to stderr as the call moves on
    states = [line.split(": ", 1)[1] for line in res.stderr.splitlines() if "Extra Lead: " in line]
    assert states == ["dialing", "ringing", "answered", "ended: completed"]


def test_outside_the_window_is_refused_unless_forced_with_a_reason(call_project):
    message = refused("--lead", "2")
    assert message.startswith("lead 2 is outside its calling window: it is ")
    assert "--force-window REASON" in message
    assert attempts(call_project) == []
    assert "needs a reason" in refused("--lead", "2", "--force-window", " ")
    summary = call_json("--lead", "2", "--force-window", "asked to be called at night")
    assert summary["call"]["phone"] == "+12125550199"
    con = duckdb.connect(str(call_project / "runs" / "dialer.duckdb"), read_only=True)
    events = con.execute("SELECT run_id, data FROM events WHERE kind = 'window_forced'").fetchall()
    con.close()
    assert [(run, json.loads(data)) for run, data in events] == [
        (summary["run_id"], {"lead_row": 2, "reason": "asked to be called at night"})
    ]


def test_suppression_and_duplicates_are_never_dialed(call_project):
    assert refused("--lead", "3") == "lead 3 is not callable: suppressed (DNC)"
    assert refused("--lead", "3", "--force-window", "x") == (
        "lead 3 is not callable: suppressed (DNC)"
    )
    assert refused("--lead", "4") == (
        "lead 4 is not callable: duplicate phone number "
        "(hint: the same number is lead 1: call --lead 1)"
    )
    assert cli("dnc", "add", EXTRA).exit_code == 0
    assert refused("--phone", EXTRA) == "lead 5 is not callable: suppressed (DNC)"
    assert refused("--lead", "9") == "no lead at row 9: the lead source has 5 rows"
    assert refused("--phone", "12") == "not a valid phone number: '12'"
    assert refused("--phone", "+1 415-555-0111") == (
        "no lead with phone +14155550111 matches the campaign"
    )
    assert attempts(call_project) == []


def test_an_opt_out_in_a_single_call_holds_at_once(call_project):
    write_campaign(
        call_project,
        campaign(answer=1.0, busy=0.0, picks="{interested: 0, callback: 0, do_not_call: 1}"),
    )
    assert call_json("--lead", "1")["call"]["disposition"] == "do_not_call"
    assert refused("--lead", "1") == "lead 1 is not callable: suppressed (DNC)"


def test_attempt_cap_and_frequency_cap_hold_even_when_forced(call_project):
    write_campaign(call_project, campaign(attempts=1))
    call_json("--lead", "1")
    assert refused("--lead", "1", "--force-window", "x") == (
        "lead 1 is not callable: its attempts are used up (1 of pacing.max_attempts 1)"
    )
    (call_project / "dialer.yaml").write_text("frequency_cap: {attempts: 1, per: 7d}\n")
    write_campaign(call_project, campaign(attempts=3))
    message = refused("--lead", "1", "--force-window", "x")
    assert message.startswith(
        "lead 1 is not callable: the frequency cap in dialer.yaml allows 1 dial(s) per 7d "
        "to a number, and it had 1 (hint: it may be called again from "
    )
    assert len(attempts(call_project)) == 1


def test_legacy_single_call_environment(call_project):
    res = run_dialer(
        "run",
        "campaigns/c.yaml",
        "--json",
        cwd=call_project,
        env={"RUN_SINGLE_CALL": "1", "LEAD_INDEX": "5"},
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["dialed"] == 1 and summary["call"]["lead_row"] == 5
    # `dialer call` reads LEAD_INDEX when no --lead is given
    res = run_dialer(
        "call", "campaigns/c.yaml", "--json", cwd=call_project, env={"LEAD_INDEX": "1"}
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["call"]["lead_row"] == 1
    res = run_dialer(
        "run", "campaigns/c.yaml", cwd=call_project, env={"RUN_SINGLE_CALL": "1", "LEAD_INDEX": "x"}
    )
    assert res.returncode == 1
    assert res.stderr.strip() == "LEAD_INDEX: expected a 1-based row number, got 'x'"
    assert [r["phone"] for r in attempts(call_project)] == ["+13125550142", "+12015550123"]
