"""The console's screens (Textual): pick a campaign, page through its leads, dial, watch the call.

Every screen reads through the `ConsoleSession` (the dashboard's library calls on the session's
threads) and dials through its `RunService`; nothing here decides who may be called. The live
status is redrawn whenever `RunService.wait_change` returns, and the page's statuses are read
again after every call that ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option

from dialer.console.session import ConsoleSession
from dialer.errors import DialerError

_STATE_STYLES = {"callable_now": "green", "outside_window": "yellow", "waiting_retry": "yellow"}


def _failure(exc: Exception) -> str:
    """A failure as one line for the notice bar (a DialerError says what to do)."""
    if isinstance(exc, DialerError):
        return exc.format()
    return f"{type(exc).__name__}: {exc}"


def describe_status(s: dict[str, Any]) -> str:
    """The live panel: state, the current lead and its call state, results, the last call."""
    state = s["state"] + (f" · {s['kind']}" if s["kind"] else "")
    where = f"   {s['campaign']} · run {s['run_id']}" if s["run_id"] else ""
    lines = [f"State: {state}{where}"]
    if s["kind"] == "run":  # a run may have several calls in flight
        calls = ", ".join(f"{c['lead']}: {c['state']}" for c in s["calls"]) or "none"
        lines.append(f"In flight: {calls}")
    elif s["current_lead"]:
        lines.append(f"Current lead: {s['current_lead']}: {s['call_state'] or 'starting'}")
    else:
        lines.append("Current lead: —")
    if s["kind"] == "run" or s["total"] > 1:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())) or "none"
        lines.append(f"Dialed {s['dialed']} of {s['total']} · results: {counts}")
    last = s["last_call"]
    if last:
        disposition = f" / {last['disposition']}" if last["disposition"] else ""
        lines.append(f"Last result: {last['lead']}: {last['status']}{disposition}")
    else:
        lines.append("Last result: —")
    if s["last_error"]:
        lines.append(f"Error: {s['last_error']}")
    return "\n".join(lines)


class QuitScreen(ModalScreen[bool]):
    """Asked when q is pressed with a call in progress: hang it up and quit, or stay."""

    BINDINGS = [
        Binding("y", "answer(True)", "Hang up and quit"),
        Binding("n,escape", "answer(False)", "Stay"),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        yield Static(f"{self.what} is in progress.\nHang it up and quit? (y / n)", id="question")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class CampaignScreen(Screen):
    """Every campaign file with its validity; Enter opens the highlighted one's leads."""

    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("Campaigns: ↑/↓ to choose, Enter to open", id="title")
        yield OptionList(id="campaigns")
        yield Static("checking campaign files…", id="errors", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.campaigns: list[dict[str, Any]] = []
        self.load()

    @work(group="campaigns", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        app: ConsoleApp = self.app  # type: ignore[assignment]
        try:
            self.campaigns = await app.session.run(app.session.campaigns)
        except Exception as exc:  # an unreadable folder is shown, not a crash
            self.query_one("#errors", Static).update(_failure(exc))
            return
        options = self.query_one("#campaigns", OptionList)
        options.set_options(Option(self._label(c), id=str(i)) for i, c in enumerate(self.campaigns))
        if not self.campaigns:
            where = app.session.campaigns_dir
            self.query_one("#errors", Static).update(f"no campaign files in {where}")
            return
        options.highlighted = self._default_index(app.default)
        options.focus()

    def _default_index(self, default: Path | None) -> int:
        if default is not None:
            for i, c in enumerate(self.campaigns):
                if Path(c["path"]).resolve() == default.resolve():
                    return i
        return next((i for i, c in enumerate(self.campaigns) if c["valid"]), 0)

    @staticmethod
    def _label(c: dict[str, Any]) -> Text:
        text = Text(f"{c['name']:<20} ", style="bold")
        if c["valid"]:
            leads = c["leads_selected"]
            text.append(f"{c['campaign']} · valid", style="green")
            if leads is not None:
                text.append(f" · {leads} leads selected")
        else:
            text.append(f"invalid: {len(c['errors'])} error(s)", style="red")
        return text

    @on(OptionList.OptionHighlighted)
    def show_errors(self, event: OptionList.OptionHighlighted) -> None:
        c = self.campaigns[int(event.option.id)]
        errors = "" if c["valid"] else "\n".join(e["text"] or e["message"] for e in c["errors"])
        self.query_one("#errors", Static).update(errors)

    @on(OptionList.OptionSelected)
    def open_campaign(self, event: OptionList.OptionSelected) -> None:
        c = self.campaigns[int(event.option.id)]
        if not c["valid"]:
            self.app.notify(
                f"{c['name']} is invalid: fix it first (its errors are below)",
                severity="error",
                markup=False,
            )
            return
        self.app.push_screen(LeadsScreen(c))


class LeadsScreen(Screen):
    """A campaign's leads, a page at a time with their plan status; the keys dial them."""

    BINDINGS = [
        Binding("enter", "dial", "Call typed row / next"),
        Binding("n", "page(1)", "Next page"),
        Binding("p", "page(-1)", "Previous page"),
        Binding("e", "end_call", "End call"),
        Binding("r", "start_run", "Run"),
        Binding("s", "stop", "Stop"),
        Binding("c", "app.pop_screen", "Campaigns"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, campaign: dict[str, Any]) -> None:
        super().__init__()
        self.campaign = campaign
        self.path = Path(campaign["path"])
        self.page, self.pages = 1, 1
        self.digits = ""
        self._stale = False
        self._loader = None

    def compose(self) -> ComposeResult:
        yield Static(
            f"{self.campaign['campaign']} · {self.campaign['file']}", id="title", markup=False
        )
        yield Static("loading leads…", id="page-info", markup=False)
        table = DataTable(id="leads", cursor_type="none", zebra_stripes=True)
        table.can_focus = False  # keys go to the screen: digits, Enter, N / P
        yield table
        yield Static("", id="live", markup=False)
        yield Static("", id="notice", markup=False)
        yield Static("", id="entry", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Row", "Name", "Phone", "Status", "Next call")
        self._show_entry()
        self.refresh_page()
        self.follow_status()

    # ----- the page -----------------------------------------------------------------------------
    def refresh_page(self) -> None:
        """Read the current page again; loads asked for while one runs coalesce into one."""
        self._stale = True
        if self._loader is None or self._loader.is_finished:
            self._loader = self._load_pages()

    @work(group="leads", exit_on_error=False)
    async def _load_pages(self) -> None:
        session = self.app.session  # type: ignore[attr-defined]
        while self._stale:
            self._stale = False
            try:
                data = await session.run(session.lead_page, self.path, self.page)
            except Exception as exc:  # e.g. the lead file went away: say so, keep the console
                self.query_one("#page-info", Static).update(_failure(exc))
                continue
            self._show_page(data)

    def _show_page(self, data: dict[str, Any]) -> None:
        self.page, self.pages = data["page"], data["pages"]
        now = data["counts"].get("callable_now", 0)
        self.query_one("#page-info", Static).update(
            f"page {data['page']} of {data['pages']} · {data['total']} leads · "
            f"{data['callable']} to call, {now} callable now"
        )
        table = self.query_one(DataTable)
        table.clear()
        for lead in data["leads"]:
            style = _STATE_STYLES.get(lead["state"], "" if lead["callable"] else "dim")
            table.add_row(
                Text(str(lead["row"])),  # Text, not str: a name's [brackets] are not markup
                Text(lead["name"] or ""),
                Text(lead["phone"] or ""),
                Text(lead["reason"], style=style),
                Text(lead["next_local"] or ""),
                key=str(lead["row"]),
            )

    def action_page(self, step: int) -> None:
        wanted = min(max(self.page + step, 1), self.pages)
        if wanted != self.page:
            self.page = wanted
            self.refresh_page()

    # ----- typing a row number ------------------------------------------------------------------
    def on_key(self, event) -> None:
        if event.character and event.character.isdigit() and len(self.digits) < 9:
            self.digits += event.character
        elif event.key == "backspace":
            self.digits = self.digits[:-1]
        elif event.key == "escape":
            self.digits = ""
        else:
            return
        event.stop()
        self._show_entry()

    def _show_entry(self) -> None:
        text = (
            f"Call lead row: {self.digits}▏ (Enter calls it, Esc clears)"
            if self.digits
            else "Type a lead's row number and Enter to call it; Enter alone calls the next "
            "callable lead"
        )
        self.query_one("#entry", Static).update(text)

    def _notice(self, text: str) -> None:
        self.query_one("#notice", Static).update(text)

    # ----- dialing ------------------------------------------------------------------------------
    def action_dial(self) -> None:
        row, self.digits = (int(self.digits) if self.digits else None), ""
        self._show_entry()
        if row is not None:
            self._call(row)
        else:
            self._call_next()

    @work(group="next", exclusive=True, exit_on_error=False)
    async def _call_next(self) -> None:
        session = self.app.session  # type: ignore[attr-defined]
        self._notice("finding the next callable lead…")
        try:
            row = await session.run(session.next_callable_row, self.path)
        except Exception as exc:
            self._notice(_failure(exc))
            return
        if row is None:
            self._notice("no lead is callable now")
        else:
            self._call(row)

    @work(group="dial", exit_on_error=False)
    async def _call(self, row: int) -> None:
        """One call now, under the same rules as `dialer call`; a refusal is shown, not dialed."""
        runs = self.app.session.runs  # type: ignore[attr-defined]
        self._notice(f"checking lead {row}…")
        try:
            await runs.call(self.path, lead_row=row)
        except DialerError as exc:
            self._notice(exc.format())
            return
        self._notice(f"calling lead {row}")

    @work(group="dial", exit_on_error=False)
    async def action_start_run(self) -> None:
        """Dial the campaign lead after lead (the legacy auto-next) until none is due or s."""
        runs = self.app.session.runs  # type: ignore[attr-defined]
        try:
            run_id = await runs.start_run(self.path)
        except DialerError as exc:
            self._notice(exc.format())
            return
        self._notice(f"run {run_id} started: s stops it, e hangs up the current call")

    def action_end_call(self) -> None:
        ended = self.app.session.runs.end_call()  # type: ignore[attr-defined]
        self._notice("hung up" if ended else "no call is in progress")

    def action_stop(self) -> None:
        runs = self.app.session.runs  # type: ignore[attr-defined]
        stopping = runs.status()["state"] == "stopping"
        if not runs.stop():
            self._notice("nothing is running")
        elif stopping:
            self._notice("hanging up the calls in progress")
        else:
            self._notice(
                "stopping: no new dials, calls in progress end normally (s again: hang up)"
            )

    # ----- the live status ----------------------------------------------------------------------
    @work(group="status", exclusive=True, exit_on_error=False)
    async def follow_status(self) -> None:
        """Redraw the live panel on every change the run service reports; read the page again
        after each call that ends."""
        runs = self.app.session.runs  # type: ignore[attr-defined]
        live = self.query_one("#live", Static)
        version, done, busy = -1, None, False
        while True:
            status = runs.status()
            version = status["version"]
            live.update(describe_status(status))
            if busy and not runs.busy:
                self._notice("")  # "calling lead N" is over: the live panel has the result
            if (busy and not runs.busy) or (done is not None and status["done"] != done):
                self.refresh_page()
            done, busy = status["done"], runs.busy
            await runs.wait_change(version)


class ConsoleApp(App):
    """`dialer console`: the campaign picker first, then the chosen campaign's leads."""

    TITLE = "dialer console"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #title { text-style: bold; background: $primary-background; padding: 0 1; }
    #page-info, #notice, #entry { padding: 0 1; }
    #campaigns { height: auto; max-height: 60%; }
    #errors { color: $error; padding: 0 1; }
    #leads { height: 1fr; }
    #live { border: round $primary; padding: 0 1; height: auto; }
    #notice { color: $warning; }
    QuitScreen { align: center middle; }
    #question { width: 60; border: thick $error; padding: 1 2; background: $surface; }
    """

    def __init__(self, session: ConsoleSession, default: Path | None = None) -> None:
        super().__init__()
        self.session = session
        self.default = default

    def on_mount(self) -> None:
        self.push_screen(CampaignScreen())

    def action_quit(self) -> None:
        """q (and ctrl+q): quit; with a call in progress, ask first, then hang it up cleanly."""
        if self.session.runs.busy:
            self._confirm_quit()
        else:
            self.exit()

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def _confirm_quit(self) -> None:
        runs = self.session.runs
        what = "A call" if runs.kind == "call" else "A run"
        if await self.push_screen_wait(QuitScreen(what)):
            self.notify("hanging up…")
            await runs.aclose()  # the results are written before the console goes
            self.exit()

    def action_pop_screen(self) -> None:
        if len(self.screen_stack) > 2:  # the picker stays under everything
            self.pop_screen()
