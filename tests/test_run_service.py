"""RunService: runs and single calls inside a long-lived process, with live status and hang-up."""

from __future__ import annotations

import asyncio

import pytest

from dialer.errors import DialerError
from dialer.runner.service import RunBusy, RunService
from dialer.store.connect import open_run_log

from . import runlog
from .conftest import write_campaign
from .test_cli_call import campaign

SLOW = (
    campaign(answer=1.0, busy=0.0, picks="{interested: 1, callback: 0, do_not_call: 0}")
    .replace("max_concurrent: 1", "max_concurrent: 2")
    .replace("calls_per_minute: 1", "calls_per_minute: 600")
    .replace("talk_time: {min: 0s, max: 0s}", "talk_time: {min: 30s, max: 30s}")
)


async def until(predicate, service: RunService, timeout: float = 10.0):
    """Wait on the service's change notifications until `predicate(status)` holds."""
    async with asyncio.timeout(timeout):
        while True:
            status = service.status()
            if predicate(status):
                return status
            await service.wait_change(status["version"], timeout=1.0)


def test_a_single_call_then_idle_with_its_result(call_project):
    db = call_project / "runs" / "dialer.duckdb"

    async def main():
        con = open_run_log(db)
        service = RunService(con, db)
        assert service.status()["state"] == "idle"
        await service.call(call_project / "campaigns" / "c.yaml", lead_row=1)
        summary = await service.wait()
        status = service.status()
        con.close()
        return summary, status

    summary, status = asyncio.run(main())
    assert summary.call["lead_row"] == 1 and summary.call["status"] == "busy"
    assert status["state"] == "idle" and status["summary"]["dialed"] == 1
    assert status["last_call"]["status"] == "busy" and status["calls"] == []
    assert [r["status"] for r in runlog.attempts(db)] == ["busy"]


def test_refusals_are_errors_at_once_and_nothing_is_logged(call_project):
    db = call_project / "runs" / "dialer.duckdb"

    async def main():
        con = open_run_log(db)
        service = RunService(con, db)
        try:
            with pytest.raises(DialerError, match="suppressed"):
                await service.call(call_project / "campaigns" / "c.yaml", lead_row=3)
            with pytest.raises(DialerError, match="outside its calling window"):
                await service.call(call_project / "campaigns" / "c.yaml", lead_row=2)
            assert not service.busy
        finally:
            con.close()

    asyncio.run(main())
    assert runlog.attempts(db) == []


def test_live_status_hang_up_one_call_and_stop(call_project):
    write_campaign(call_project, SLOW)
    db = call_project / "runs" / "dialer.duckdb"

    async def main():
        con = open_run_log(db)
        service = RunService(con, db)
        run_id = await service.start_run(call_project / "campaigns" / "c.yaml")
        with pytest.raises(RunBusy):
            await service.call(call_project / "campaigns" / "c.yaml", lead_row=1)
        status = await until(lambda s: len(s["calls"]) == 2, service)
        assert status["state"] == "running" and status["run_id"] == run_id
        first = status["calls"][0]
        assert first["state"] == "answered" or first["state"] == "ringing"
        # the operator ends one call: it is canceled, and the run and the other call go on
        assert service.end_call(first["attempt_id"]) == 1
        status = await until(lambda s: s["statuses"].get("canceled") == 1, service)
        assert status["state"] == "running"
        assert [c["attempt_id"] for c in status["calls"]] == [status["calls"][0]["attempt_id"]]
        assert first["attempt_id"] != status["calls"][0]["attempt_id"]
        # stop: no new dials; again: hang up the calls in progress
        assert service.stop()
        assert (await until(lambda s: s["state"] == "stopping", service))["state"] == "stopping"
        service.stop()
        summary = await service.wait()
        con.close()
        return first["attempt_id"], summary

    ended, summary = asyncio.run(main())
    assert summary.status == "stopped"
    rows = {r["attempt_id"]: r for r in runlog.attempts(db)}
    assert rows[ended]["status"] == "canceled"
    assert len(rows) == 2 and {r["status"] for r in rows.values()} == {"canceled"}
    errors = sorted(r["error"] for r in runlog_errors(db))
    assert errors == ["hung up by the operator", "hung up: the run was canceled"]


def runlog_errors(db):
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT error FROM attempts").fetchall()
    con.close()
    return [{"error": e} for (e,) in rows]
