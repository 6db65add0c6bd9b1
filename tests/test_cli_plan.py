"""`dialer plan`: counts per stage and the callable leads with their next lead-local time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import dialer.leads as leads_module
import dialer.plan as plan_module
from dialer.campaign.load import load_campaign
from dialer.plan import plan_campaign
from dialer.store.connect import open_run_log

from .conftest import cli

AT = "2026-11-24T15:00:00+00:00"  # Tuesday: 10:00 in New York, 07:00 in Los Angeles


def test_plan_counts_and_next_local_times(project):
    res = cli("plan", "campaigns/example.yaml", "--at", AT, "--json", "--show", "100")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    c = data["counts"]
    assert c["source_rows"] == 24
    assert c["not_matched"] == 4  # score < 50
    assert c["invalid_phone"] == 0  # the invalid one has score 30
    assert c["duplicate"] == 1  # Morgan Ellis shares Avery's number
    assert c["suppressed"] == 1  # Oakley Price is on leads/dnc.csv
    assert c["no_window"] == 1  # +1 800 toll-free spans zones that never share a window
    callable_total = c["callable_now"] + c["outside_window"]
    assert data["callable"] == callable_total == len(data["leads"]) == 17
    by_name = {lead["name"]: lead for lead in data["leads"]}
    assert by_name["Avery Johnson"]["state"] == "callable_now"
    assert by_name["Avery Johnson"]["next_local"].startswith("tue 2026-11-24 10:00")
    harper = by_name["Harper Lee"]  # Los Angeles: 07:00, window opens 09:00
    assert harper["state"] == "outside_window"
    assert harper["next_local"] == "tue 2026-11-24 09:00 PST"
    assert harper["next_at"] == "2026-11-24T17:00:00+00:00"
    jordan = by_name["Jordan Kim"]  # Sydney: 02:00 Wednesday
    assert jordan["next_local"] == "wed 2026-11-25 09:00 AEDT"
    orders = [lead["order"] for lead in data["leads"]]
    assert orders == sorted(orders)


def test_plan_human_output(project):
    res = cli("plan", "campaigns/example.yaml", "--at", AT)
    assert res.exit_code == 0, res.stderr
    assert "suppressed (DNC)" in res.stdout and "callable now" in res.stdout
    assert "Finley Brooks" in res.stdout


def test_plan_weekend_moves_everyone_to_monday(project):
    res = cli("plan", "campaigns/example.yaml", "--at", "2026-11-28T15:00:00+00:00", "--json")
    data = json.loads(res.stdout)
    assert data["counts"]["callable_now"] == 0
    assert all(lead["next_local"].startswith("mon 2026-11-30 09:00") for lead in data["leads"])


def write_history(project):
    """A run log with one lead in each history state; returns its path."""
    db = project / "runs" / "dialer.duckdb"
    con = open_run_log(db)
    rows = [
        # Avery: 3 attempts used -> exhausted
        *[(f"a{i}", "+12015550123", i, "no_answer", None, None) for i in (1, 2, 3)],
        # Finley: busy 5 minutes before plan time -> waits 20m
        ("b1", "+17135550188", 1, "busy", None, None),
        # Casey: completed with a final disposition -> done
        ("c1", "+13125550142", 1, "completed", "meeting_booked", None),
        # Harper: asked for a callback at a given time
        ("d1", "+12065550133", 1, "completed", "callback", "2026-11-26T18:30:00+00:00"),
        # Gray: crash left an unknown result -> not redialed automatically
        ("e1", "+13035550155", 1, "unknown", None, None),
    ]
    for attempt_id, phone, n, status, disposition, callback in rows:
        con.execute(
            "INSERT INTO attempts (attempt_id, run_id, campaign, lead_key, phone, attempt_no, "
            "status, disposition, dialed_at, ended_at, callback_at) VALUES "
            "(?, 'r1', 'Example outreach', ?, ?, ?, ?, ?, TIMESTAMPTZ '2026-11-24 14:54:00+00', "
            "TIMESTAMPTZ '2026-11-24 14:55:00+00', ?::TIMESTAMPTZ)",
            [attempt_id, phone, phone, n, status, disposition, callback],
        )
    con.close()
    return db


def test_plan_reads_history_from_the_run_log(project):
    db = write_history(project)
    loaded = load_campaign(project / "campaigns" / "example.yaml", env={})
    plan = plan_campaign(loaded, datetime.fromisoformat(AT), db, show=None)
    assert plan.counts["exhausted"] == 1
    assert plan.counts["done"] == 1
    assert plan.counts["unknown"] == 1
    assert plan.counts["waiting_retry"] == 2
    leads = {lead.phone: lead for lead in plan.leads}
    assert "+12015550123" not in leads and "+13035550155" not in leads
    finley = leads["+17135550188"]
    assert finley.state == "waiting_retry"
    assert finley.next_at == datetime(2026, 11, 24, 15, 15, tzinfo=UTC)  # 14:55 + 20m busy retry
    assert leads["+12065550133"].next_at == datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    unknown_too = plan_campaign(
        loaded, datetime.fromisoformat(AT), db, show=None, retry_unknown=True
    )
    assert unknown_too.counts["unknown"] == 0


@pytest.mark.parametrize("show", [None, 0, 2])
@pytest.mark.parametrize("history", [False, True])
@pytest.mark.parametrize("big", [False, True])
def test_a_narrow_plan_is_the_same_plan(project, monkeypatch, show, history, big):
    # `dialer plan` reads only the columns it shows and counts by group, with no table of
    # every planned lead; what it says must not change. `big`: as a big lead file is read
    # (numbers in compiled SQL, the suppression list read on another thread meanwhile)
    if big:
        monkeypatch.setattr(leads_module, "SMALL_SOURCE", 0)
        monkeypatch.setattr(leads_module, "BIG_SOURCE_BYTES", 0)
    db = write_history(project) if history else None
    loaded = load_campaign(project / "campaigns" / "example.yaml", env={})
    at = datetime.fromisoformat(AT)
    full = plan_campaign(loaded, at, db, show=show)
    narrow = plan_campaign(loaded, at, db, show=show, narrow=True)
    assert narrow.to_dict() == full.to_dict()
    assert full.counts["no_window"] == 1 and (full.counts["waiting_retry"] == 2) == history
    assert len(narrow.leads) == (full.callable if show is None else min(show, full.callable))
    assert [lead.order for lead in narrow.leads] == sorted(lead.order for lead in narrow.leads)
    assert all(lead.name for lead in narrow.leads)


def test_a_narrow_plan_finds_planned_leads_past_those_that_are_not(project, monkeypatch):
    # the first leads in order are done or exhausted: the shown ones come from the planned
    # groups in one query, not by paging through every lead
    monkeypatch.setattr(plan_module, "FIRST_BATCH", 1)
    db = write_history(project)
    con = open_run_log(db)
    for n in (2, 3):  # Finley, first in order, now exhausted too
        con.execute(
            "INSERT INTO attempts (attempt_id, run_id, campaign, lead_key, phone, attempt_no,"
            " status, dialed_at, ended_at) VALUES (?, 'r1', 'Example outreach', '+17135550188',"
            " '+17135550188', ?, 'no_answer', TIMESTAMPTZ '2026-11-24 14:00:00+00',"
            " TIMESTAMPTZ '2026-11-24 14:01:00+00')",
            [f"f{n}", n],
        )
    con.close()
    loaded = load_campaign(project / "campaigns" / "example.yaml", env={})
    at = datetime.fromisoformat(AT)
    full = plan_campaign(loaded, at, db, show=None)
    first = min(full.leads, key=lambda lead: lead.order)
    assert first.order > 1  # lead 1 in order is not planned: the one-lead batch finds nothing
    for show in (1, 3):
        narrow = plan_campaign(loaded, at, db, show=show, narrow=True)
        assert narrow.to_dict()["leads"] == full.to_dict()["leads"][:show]


def test_project_quiet_hours_narrow_every_campaign(project):
    (project / "dialer.yaml").write_text("quiet_hours: {start: '12:00', end: '21:00'}\n")
    res = cli("plan", "campaigns/example.yaml", "--at", AT, "--json", "--show", "100")
    data = json.loads(res.stdout)
    avery = next(lead for lead in data["leads"] if lead["name"] == "Avery Johnson")
    assert avery["state"] == "outside_window"
    assert avery["next_local"].startswith("tue 2026-11-24 12:00")


def test_plan_bad_at(project):
    res = cli("plan", "campaigns/example.yaml", "--at", "tomorrow")
    assert res.exit_code == 1 and "--at: expected an ISO time" in res.stderr


def test_plan_at_out_of_calendar_range(project):
    res = cli("plan", "campaigns/example.yaml", "--at", "9999-12-31T23:59:59-05:00")
    assert res.exit_code == 1 and "between the years 1900 and 8999" in res.stderr
    assert "Traceback" not in res.stderr
