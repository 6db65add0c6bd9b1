"""`dialer console`: the terminal UI driven with Textual's pilot against a real project.

Each test opens the real run log through `ConsoleSession`, runs the real app headless, presses
keys and reads what is on the screen; the run log's attempts table says what was dialed.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

import pytest

from dialer.console import ConsoleSession, default_campaign
from dialer.console.app import CampaignScreen, ConsoleApp, LeadsScreen, QuitScreen

from . import runlog
from .conftest import MINIMAL, cli, write_campaign
from .test_cli_call import campaign
from .test_web_browser import MANY

ANSWERED = campaign(answer=1.0, busy=0.0, picks="{interested: 1, callback: 0, do_not_call: 0}")
# answered calls that last until hung up (30 s): long enough to watch and to end by hand
TALKING = ANSWERED.replace("talk_time: {min: 0s, max: 0s}", "talk_time: {min: 30s, max: 30s}")
SIZE = (120, 44)


def screen_text(app: ConsoleApp) -> str:
    """What the terminal shows now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot, predicate, timeout: float = 15.0) -> None:
    """Let the app's work (page loads, lookups) finish and redraw until `predicate()` holds,
    waking on every change the run service reports."""
    app = pilot.app
    runs = app.session.runs
    async with asyncio.timeout(timeout):
        while True:
            version = runs.version
            for worker in [w for w in app.workers if w.group not in ("status", "quit")]:
                with contextlib.suppress(Exception):  # a canceled or failed load is shown
                    await worker.wait()
            await pilot.pause()
            if predicate():
                return
            await runs.wait_change(version, timeout=0.5)


async def type_keys(pilot, text: str) -> None:
    await pilot.press(*text)


def rows(app: ConsoleApp) -> list[list[str]]:
    table = app.screen.query_one("#leads")
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def page_info(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#page-info").render())


def console(project, requested=None):
    """The app over a fresh session of the project's run log (closed by `closing`)."""
    session = ConsoleSession.open(project, project / "runs" / "dialer.duckdb")
    return ConsoleApp(session, default_campaign(project / "campaigns", requested))


async def open_leads(pilot) -> None:
    """Enter on the highlighted campaign, then wait for its first page."""
    await until(
        pilot, lambda: isinstance(pilot.app.screen, CampaignScreen) and pilot.app.screen.campaigns
    )
    await pilot.press("enter")
    await until(
        pilot, lambda: isinstance(pilot.app.screen, LeadsScreen) and "page " in page_info(pilot.app)
    )


def attempts(project) -> list[tuple[str, str, str | None]]:
    rows_ = runlog.attempts(project / "runs" / "dialer.duckdb")
    return [(r["phone"], r["status"], r["disposition"]) for r in rows_]


def dialed(app: ConsoleApp) -> int:
    with app.session.cursor() as cur:
        return cur.execute("SELECT count(*) FROM attempts").fetchone()[0]


@pytest.fixture
def many(project):
    """45 leads (three pages of 20), an invalid campaign listed first, the example second."""
    # names in [brackets]: shown as written, never read as markup
    rows_ = "".join(f"[b]Lead {i},+1 201-555-{i:04d},America/New_York\n" for i in range(100, 145))
    (project / "leads" / "many.csv").write_text("prospect_name,phone,timezone\n" + rows_)
    write_campaign(project, MANY, "many.yaml")
    write_campaign(
        project, MINIMAL.replace("{{ lead.resource_name }}", "{{ lead.nope }}"), "a_bad.yaml"
    )
    return project


def test_pick_a_campaign_page_through_its_leads_and_quit(many):
    async def main():
        app = console(many)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Many leads" in screen_text(app))
            picker = app.screen
            text = screen_text(app)
            assert "a_bad" in text and "invalid: 1 error(s)" in text
            # the first valid file is highlighted; an invalid one shows its errors, and Enter
            # on it does not open it
            assert picker.campaigns[picker.query_one("#campaigns").highlighted]["name"] == "example"
            await pilot.press("up", "enter")
            await pilot.pause()
            assert "lead.nope" in screen_text(app) and app.screen is picker
            await pilot.press("down", "down")
            await open_leads(pilot)
            assert "Many leads · campaigns/many.yaml" in screen_text(app)
            assert page_info(app).startswith("page 1 of 3 · 45 leads")
            assert [r[0] for r in rows(app)] == [str(i) for i in range(1, 21)]
            assert rows(app)[0][1:3] == ["[b]Lead 100", "+12015550100"]
            # (drawn as written once the table redraws: it may lag the data by a frame)
            await until(pilot, lambda: "[b]Lead 100" in screen_text(app))
            await pilot.press("n")
            await until(pilot, lambda: page_info(app).startswith("page 2 of 3"))
            assert rows(app)[0][0] == "21"
            await pilot.press("n", "n")  # the last page is 3
            await until(pilot, lambda: page_info(app).startswith("page 3 of 3"))
            assert [r[0] for r in rows(app)] == [str(i) for i in range(41, 46)]
            await pilot.press("p")
            await until(pilot, lambda: page_info(app).startswith("page 2 of 3"))
            await pilot.press("c")  # back to the campaigns
            await until(pilot, lambda: app.screen is picker)
            await pilot.press("q")
            await pilot.pause()
            assert app.return_code == 0
        await app.session.aclose()

    asyncio.run(main())
    assert attempts(many) == []


def test_call_by_number_enter_for_the_next_and_refusals_in_place(call_project):
    write_campaign(call_project, ANSWERED)

    async def main():
        app = console(call_project, "c")
        async with app.run_test(size=SIZE) as pilot:
            await open_leads(pilot)  # `c` was asked for, so Enter opens it
            assert [r[3] for r in rows(app)] == [
                "callable now",
                "outside window at plan time",
                "suppressed (DNC)",
                "duplicate phone number",
                "callable now",
            ]
            # refused leads: the reason in place, nothing dialed
            await type_keys(pilot, "3")
            assert "Call lead row: 3" in screen_text(app)
            await pilot.press("enter")
            await until(
                pilot, lambda: "lead 3 is not callable: suppressed (DNC)" in screen_text(app)
            )
            await type_keys(pilot, "2")
            await pilot.press("enter")
            await until(pilot, lambda: "lead 2 is outside its calling window" in screen_text(app))
            assert dialed(app) == 0  # read through the console's own run log
            # row 1 by number: the result in place, then the page shows it is done
            await type_keys(pilot, "1")
            await pilot.press("enter")
            await until(
                pilot,
                lambda: (
                    "Last result: lead 1 Open Lead: completed / interested" in screen_text(app)
                    and rows(app)[0][3] == "done (final outcome)"
                ),
            )
            assert "State: idle" in screen_text(app)
            assert "calling lead" not in screen_text(app)  # the notice ends with the call
            # Enter alone: the next callable lead in dial order is row 5
            await pilot.press("enter")
            await until(
                pilot,
                lambda: (
                    "Last result: lead 5 Extra Lead: completed / interested" in screen_text(app)
                    and rows(app)[4][3] == "done (final outcome)"
                ),
            )
            await pilot.press("enter")
            await until(pilot, lambda: "no lead is callable now" in screen_text(app))
            await pilot.press("q")
            await pilot.pause()
            assert app.return_code == 0
        await app.session.aclose()

    asyncio.run(main())
    assert attempts(call_project) == [
        ("+12015550123", "completed", "interested"),
        ("+13125550142", "completed", "interested"),
    ]


def test_live_status_end_the_call_and_quit_asks_first(call_project):
    write_campaign(call_project, TALKING)

    async def main():
        app = console(call_project, "campaigns/c.yaml")
        runs = app.session.runs
        async with app.run_test(size=SIZE) as pilot:
            await open_leads(pilot)
            assert "State: idle" in screen_text(app) and "Current lead: —" in screen_text(app)
            await type_keys(pilot, "1")
            await pilot.press("enter")
            await until(
                pilot, lambda: "Current lead: lead 1 Open Lead: answered" in screen_text(app)
            )
            assert "State: running · call" in screen_text(app)
            await pilot.press("e")  # hang up; the result shows in place
            await until(
                pilot, lambda: "Last result: lead 1 Open Lead: canceled" in screen_text(app)
            )
            assert "State: idle" in screen_text(app)
            await type_keys(pilot, "5")
            await pilot.press("enter")
            await until(
                pilot, lambda: "Current lead: lead 5 Extra Lead: answered" in screen_text(app)
            )
            # q with a call in progress asks; n keeps the call, y hangs it up and quits
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, QuitScreen))
            assert "A call is in progress" in screen_text(app)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, LeadsScreen))
            assert runs.busy and app.return_code is None
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, QuitScreen))
            await pilot.press("y")
            await runs.wait()
            await until(pilot, lambda: app.return_code is not None)
        await app.session.aclose()

    asyncio.run(main())
    assert attempts(call_project) == [
        ("+12015550123", "canceled", None),
        ("+13125550142", "canceled", None),
    ]


def test_run_and_stop_from_the_keyboard(call_project):
    write_campaign(call_project, TALKING)

    async def main():
        app = console(call_project, "c")
        async with app.run_test(size=SIZE) as pilot:
            await open_leads(pilot)
            await pilot.press("r")  # the legacy auto-next: lead after lead
            await until(pilot, lambda: "In flight: lead 1 Open Lead: answered" in screen_text(app))
            assert "State: running · run" in screen_text(app)
            await pilot.press("s")
            await until(pilot, lambda: "State: stopping" in screen_text(app))
            await pilot.press("s")  # again: hang up
            await until(pilot, lambda: "State: idle" in screen_text(app))
            assert "Last result: lead 1 Open Lead: canceled" in screen_text(app)
            assert "Dialed 1 of 3 · results: canceled 1" in screen_text(app)  # row 2 waits
            await pilot.press("q")
            await pilot.pause()
        await app.session.aclose()

    asyncio.run(main())
    assert attempts(call_project) == [("+12015550123", "canceled", None)]


def test_a_held_run_log_or_a_missing_campaign_is_one_line_before_the_screen(project):
    missing = cli("console", "nope")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        "nope: no such campaign file (hint: give a campaign file, or the name of one in "
        "campaigns/ (campaigns/q4.yaml is q4))"
    ]
    db = project / "runs" / "dialer.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        res = cli("console")
    finally:
        holder.communicate("", timeout=30)
    assert res.exit_code == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"runs/dialer.duckdb: run log is in use by process {holder.pid}")
