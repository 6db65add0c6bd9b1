"""What the console process holds while it runs: the run log, its cursors, worker threads, runs.

Like `dialer serve`, the console owns the run log for its lifetime (DuckDB allows one writer
process per file): `ConsoleSession.open` takes the file's lock before the UI starts, so a held
lock is the usual one-line "in use by process N" error. Everything the screens show comes from
the dashboard's own library calls: the campaign list (`list_campaigns`, validated as `dialer
validate` does), a page of leads with their plan status (`lead_page`), and calls and the live
status (`RunService`). The blocking ones run on the session's threads, each on a cursor of its
own (a DuckDB connection must not be used from two threads at once); the threads end in
`aclose`, before the run log closes and while the interpreter is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from dialer.errors import DialerError, Location
from dialer.store.connect import open_run_log

T = TypeVar("T")
PAGE_SIZE = 20  # the legacy console's page
WORKERS = 2  # a campaign list and a page load at once; DuckDB itself uses every core


def default_campaign(campaigns_dir: Path, requested: str | Path | None) -> Path | None:
    """The campaign file the picker highlights first: `requested` (a file, or a name in
    `campaigns/`); None when nothing was asked for, and the picker then highlights the first
    valid campaign. Raises a one-line DialerError for a campaign that is not there."""
    campaigns_dir = Path(campaigns_dir)
    if requested is None or str(requested) == "":
        # the legacy console read CAMPAIGN_PROMPT_MODULE (and its constants): an imported
        # campaign it names is the default
        from dialer.import_legacy import legacy_campaign
        from dialer.livekit.settings import environment

        return legacy_campaign(campaigns_dir, environment())
    path = Path(requested)
    if not path.is_file():
        path = next(
            (
                campaigns_dir / f"{requested}{suffix}"
                for suffix in (".yaml", ".yml")
                if (campaigns_dir / f"{requested}{suffix}").is_file()
            ),
            path,
        )
    if not path.is_file():
        raise DialerError(
            "no such campaign file",
            Location(str(requested)),
            "give a campaign file, or the name of one in campaigns/ (campaigns/q4.yaml is q4)",
        )
    if path.resolve().parent != campaigns_dir.resolve():
        raise DialerError(
            f"the console picks from {campaigns_dir}, and this file is elsewhere",
            Location(str(requested)),
            "run dialer console in the campaign's project folder",
        )
    return path


class ConsoleSession:
    """The run log, its cursors, the worker threads and the `RunService` of one console."""

    def __init__(self, con: duckdb.DuckDBPyConnection, root: Path, db: Path, runs) -> None:
        self.con = con
        self.root = Path(root).resolve()
        self.campaigns_dir = self.root / "campaigns"
        self.db = Path(db)
        self.runs = runs  # RunService: calls, runs and the live status, as in the dashboard
        # cursors are spawned from a connection nothing else executes on: the calls write on
        # cursors of `con` from the event loop, pages are read on these threads
        self._spawner = con.cursor()
        self._spawn_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="dialer-console")

    @classmethod
    def open(cls, root: Path, db: Path, backend: str = "simulate", seed: int = 0) -> ConsoleSession:
        """Open (create, migrate) the run log and hold its lock; RunLogLocked when another
        process holds it."""
        from dialer.runner.service import RunService

        con = open_run_log(db)
        try:
            return cls(con, root, db, RunService(con, db, backend=backend, seed=seed))
        except BaseException:
            con.close()
            raise

    async def aclose(self) -> None:
        """Hang up what is in progress (its results are written first), end the threads, close
        the run log."""
        await self.runs.aclose()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(executor.shutdown, wait=True)
            )
        self._spawner.close()
        self.con.close()

    # ----- blocking work, off the event loop ----------------------------------------------------
    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._spawn_lock:
            cur = self._spawner.cursor()
        try:
            yield cur
        finally:
            cur.close()

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """`fn(*args)` on the session's threads, awaited."""
        if self._executor is None:
            raise RuntimeError("the console session is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    # ----- what the screens show (each runs on a thread) ----------------------------------------
    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign file with its validity and errors (what GET /api/campaigns returns),
        each with its `path`."""
        from dialer.web.campaigns import list_campaigns

        found = list_campaigns(self.campaigns_dir, self.root)
        return [{**c, "path": self.root / c["file"]} for c in found]

    def lead_page(self, path: Path, page: int, sort: str = "row", only_callable: bool = False):
        """A page of the campaign's leads with their plan status (the dashboard's page)."""
        from dialer.campaign.load import load_campaign
        from dialer.web.prospects import lead_page

        loaded = load_campaign(path)
        with self.cursor() as cur:
            catalog = cur.execute("SELECT current_database()").fetchone()[0]
            return lead_page(loaded, cur, catalog, page, PAGE_SIZE, None, sort, only_callable)

    def next_callable_row(self, path: Path) -> int | None:
        """The first lead callable now in the campaign's dial order, as the dashboard's Enter
        finds it; None when no lead is."""
        from dialer.campaign.load import load_campaign
        from dialer.web.prospects import MAX_PAGE_SIZE, lead_page

        loaded = load_campaign(path)
        with self.cursor() as cur:
            catalog = cur.execute("SELECT current_database()").fetchone()[0]
            page, pages = 1, 1
            while page <= pages:
                data = lead_page(loaded, cur, catalog, page, MAX_PAGE_SIZE, None, "order", True)
                for lead in data["leads"]:
                    if lead["state"] == "callable_now":
                        return lead["row"]
                page, pages = page + 1, data["pages"]
        return None
