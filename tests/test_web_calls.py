"""Dialing through the API: one lead, a run, stop, end a call, live status (JSON and SSE)."""

from __future__ import annotations

import json
import time

from . import runlog
from .conftest import write_campaign
from .test_run_service import SLOW
from .webapp import auth, client


def wait_status(c, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = c.get("/api/call/status", headers=auth("viewer")).json()
        if predicate(status):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_call_one_lead_then_status_shows_the_result(call_project):
    with client(call_project) as c:
        assert c.get("/api/call/status", headers=auth("viewer")).json()["state"] == "idle"
        # a viewer may watch but not dial
        res = c.post("/api/call/one", json={"campaign": "c", "lead": 1}, headers=auth("viewer"))
        assert res.status_code == 403
        res = c.post("/api/call/one", json={"campaign": "c", "lead": 1}, headers=auth("operator"))
        assert res.status_code == 200, res.text
        run_id = res.json()["run_id"]
        status = wait_status(c, lambda s: s["state"] == "idle" and s.get("summary"))
        assert status["run_id"] == run_id and status["summary"]["dialed"] == 1
        assert status["last_call"]["lead_row"] == 1 and status["last_call"]["status"] == "busy"
    rows = runlog.attempts(call_project / "runs" / "dialer.duckdb")
    assert [(r["run_id"], r["phone"]) for r in rows] == [(run_id, "+12015550123")]


def test_refused_calls_say_why_and_dial_nothing(call_project):
    with client(call_project) as c:
        op = auth("operator")
        res = c.post("/api/call/one", json={"campaign": "c", "lead": 3}, headers=op)
        assert res.status_code == 400
        assert res.json()["error"] == "lead 3 is not callable: suppressed (DNC)"
        res = c.post("/api/call/one", json={"campaign": "c", "lead": 2}, headers=op)
        assert res.status_code == 400 and "outside its calling window" in res.json()["error"]
        res = c.post("/api/call/one", json={"campaign": "nope", "lead": 1}, headers=op)
        assert res.status_code == 404
        res = c.post("/api/call/one", json={"campaign": "c"}, headers=op)
        assert res.status_code == 400
    assert runlog.attempts(call_project / "runs" / "dialer.duckdb") == []


def test_start_end_a_call_stop_and_the_event_stream(call_project):
    write_campaign(call_project, SLOW)
    op = auth("operator")
    with client(call_project) as c:
        res = c.post("/api/call/start", json={"campaign": "c"}, headers=op)
        assert res.status_code == 200, res.text
        run_id = res.json()["run_id"]
        # a second run while one is in progress: 409
        again = c.post("/api/call/one", json={"campaign": "c", "lead": 1}, headers=op)
        assert again.status_code == 409
        status = wait_status(c, lambda s: len(s["calls"]) == 2)
        assert status["state"] == "running" and status["kind"] == "run"
        # the stream's first event is the current status
        with c.stream("GET", "/api/call/events", headers=auth("viewer")) as events:
            first = next(line for line in events.iter_lines() if line.startswith("data: "))
        event = json.loads(first.removeprefix("data: "))
        assert event["run_id"] == run_id and event["running"] is True
        target = status["calls"][0]["attempt_id"]
        res = c.post("/api/call/end", json={"attempt_id": target}, headers=op)
        assert res.json() == {"ok": True, "ended": 1}
        wait_status(c, lambda s: s["statuses"].get("canceled") == 1)
        assert c.post("/api/call/stop", headers=op).json() == {"ok": True, "stopping": True}
        assert c.post("/api/call/stop", headers=op).json()["stopping"] is True  # hang up
        status = wait_status(c, lambda s: s["state"] == "idle")
        assert status["summary"]["status"] == "stopped"
    rows = {r["attempt_id"]: r for r in runlog.attempts(call_project / "runs" / "dialer.duckdb")}
    assert rows[target]["status"] == "canceled" and len(rows) == 2


def test_shutdown_with_calls_in_progress_logs_them(call_project):
    write_campaign(call_project, SLOW)
    with client(call_project) as c:
        c.post("/api/call/start", json={"campaign": "c"}, headers=auth("operator"))
        wait_status(c, lambda s: len(s["calls"]) == 2)
    # the server stopped: the calls it carried were hung up and written, none left dialing
    rows = runlog.attempts(call_project / "runs" / "dialer.duckdb")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"canceled"}


def test_dashboard_page_is_served_without_a_token(call_project):
    with client(call_project) as c:
        res = c.get("/")
        assert res.status_code == 200 and "text/html" in res.headers["content-type"]
        assert "/api/call/events" in res.text and 'id="leads"' in res.text
