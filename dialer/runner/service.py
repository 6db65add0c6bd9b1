"""Runs and single calls inside a long-lived process (the dashboard, the console), one at a time.

`dialer run` owns its event loop and the run log for one run. The server and the console own
the run log for their whole life and start runs from inside their loop: `RunService` does that
with the same `Runner`, on a cursor of the process's run-log connection. It keeps the live status
(idle / running / stopping, the run, the calls in flight, counts, the last result) that the
dashboard streams and `GET /api/call/status` returns, and wakes its watchers on every change.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dialer.errors import DialerError
from dialer.runner.observer import RunObserver, RunProgress
from dialer.runner.run import RunOptions, RunSummary, load_revision, make_backend
from dialer.store.runs import recover_crashed


class RunBusy(DialerError):
    """A run or call is already in progress in this process."""


class RevisionMismatch(DialerError):
    """The campaign file the caller asked for is not the one this process would run."""


class _Relay(RunObserver):
    """Passes the runner's events to the service; asks the runner to follow each call."""

    follows_calls = True

    def __init__(self, service: RunService) -> None:
        self.service = service

    def started(self, progress: RunProgress) -> None:
        self.service._changed(progress)

    def update(self, progress: RunProgress) -> None:
        self.service._changed(progress)

    def message(self, text: str) -> None:
        self.service.messages.append((time.time(), text))
        del self.service.messages[:-50]
        self.service._changed(None)

    def finished(self, progress: RunProgress) -> None:
        self.service._changed(progress)


class RunService:
    """Starts runs and single calls on the current loop; one at a time, like one operator."""

    def __init__(self, con, db: Path, backend: str = "simulate", seed: int = 0) -> None:
        self.con = con
        self.db = Path(db)
        self.backend = backend
        self.seed = seed
        self.kind: str | None = None  # "run" | "call" while busy
        self.campaign_path: Path | None = None
        self.progress: RunProgress | None = None
        self.last_summary: RunSummary | None = None
        self.last_error: str | None = None
        self.messages: list[tuple[float, str]] = []
        self.version = 0  # bumped on every change; watchers compare it
        self._runner = None
        self._starting: str | None = None  # "run" | "call" while one is being checked
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        recover_crashed(con, datetime.now(UTC))

    # ----- status ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def status(self) -> dict[str, Any]:
        """Everything a dashboard shows; JSON-ready."""
        p = self.progress
        state = "idle"
        if self.busy:
            state = (
                "stopping" if p is not None and p.state in ("stopping", "canceling") else "running"
            )
        out: dict[str, Any] = {
            "state": state,
            "kind": self.kind if self.busy else None,
            "campaign": p.campaign if p else None,
            "campaign_file": str(self.campaign_path) if self.campaign_path else None,
            "run_id": p.run_id if p else None,
            "revision": p.revision if p else None,
            "total": p.total if p else 0,
            "dialed": p.dialed if p else 0,
            "done": p.done if p else 0,
            "in_flight": p.in_flight if p else 0,
            "calls": sorted(p.calls.values(), key=lambda c: c["since"]) if p else [],
            "current_lead": p.call_lead if p and self.busy else None,
            "call_state": p.call_state if p else None,
            "statuses": dict(+p.statuses) if p else {},
            "dispositions": dict(+p.dispositions) if p else {},
            "last_call": p.last_call if p else None,
            "last_error": self.last_error or (p.last_error if p else None),
            "messages": [m for _, m in self.messages[-5:]],
            "version": self.version,
        }
        if self.last_summary is not None and not self.busy:
            out["summary"] = self.last_summary.to_dict()
        return out

    async def wait_change(self, version: int, timeout: float = 15.0) -> int:
        """Return once the status version differs from `version` (or after `timeout`)."""
        if self.version != version:
            return self.version
        event = self._wake
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        return self.version

    def _changed(self, progress: RunProgress | None) -> None:
        if progress is not None:
            self.progress = progress
        self.version += 1
        event, self._wake = self._wake, asyncio.Event()
        event.set()

    # ----- control --------------------------------------------------------------------------
    async def start_run(
        self,
        campaign: Path,
        max_calls: int | None = None,
        concurrency: int | None = None,
        wait: bool = False,
        retry_unknown: bool = False,
        revision: str | None = None,
    ) -> str:
        """Start dialing a campaign (the legacy "auto-next"); returns the run id.

        `revision`, when given, is the campaign's content hash the caller expects (`dialer run
        --server` sends its own copy's): a server whose file differs refuses the run.
        """
        options = RunOptions(
            db=self.db,
            backend=self.backend,
            seed=self.seed,
            max_calls=max_calls,
            concurrency=concurrency,
            wait=wait,
            retry_unknown=retry_unknown,
        )
        return await self._start(campaign, options, "run", revision)

    async def call(
        self,
        campaign: Path,
        lead_row: int | None = None,
        phone: str | None = None,
        force_window: str | None = None,
    ) -> str:
        """One call now to one lead, under the same rules as `dialer call`; returns the run id."""
        options = RunOptions(
            db=self.db,
            backend=self.backend,
            seed=self.seed,
            concurrency=1,
            lead_row=lead_row,
            lead_phone=phone,
            force_window=force_window,
        )
        return await self._start(campaign, options, "call")

    async def _start(
        self, campaign: Path, options: RunOptions, kind: str, revision: str | None = None
    ) -> str:
        """Load, check and start; the blocking part (campaign, lead query, a single call's lead
        checks) runs on a thread, so the loop (the dashboard, the console) never stalls."""
        if self.busy or self._starting:
            what = "a call" if self.kind == "call" or self._starting == "call" else "a run"
            raise RunBusy(f"{what} is already in progress", hint="stop it first")
        self._starting = kind
        try:
            # an invalid campaign is refused before anything starts
            rev = await asyncio.to_thread(load_revision, campaign)
            if revision is not None and revision != rev.loaded.revision:
                raise RevisionMismatch(
                    f"the server's {campaign.name} is revision {rev.loaded.revision}, "
                    f"not {revision}",
                    hint="the server runs its own copy of the campaign: sync the file, then retry",
                )
            from dialer.runner.run import Runner
            from dialer.schedule.clock import RealClock

            clock = RealClock()
            cursor = self.con.cursor()  # on the loop's thread; only the runner uses it
            backend = None
            try:
                backend = make_backend(options.backend, clock, options)
                runner = Runner(rev, options, cursor, clock, _Relay(self), backend)
                # a single call's lead checks run now: a refusal is the caller's error at once
                await asyncio.to_thread(runner.preload, clock.now())
            except BaseException:
                if backend is not None:
                    await backend.aclose()
                cursor.close()
                raise
        finally:
            self._starting = None
        self._runner, self.kind, self.campaign_path = runner, kind, Path(campaign)
        self.last_error, self.last_summary = None, None
        self.progress = runner.progress
        self._task = asyncio.get_running_loop().create_task(self._run(runner, cursor))
        self._changed(runner.progress)
        return runner.run_id

    async def _run(self, runner, cursor) -> None:
        try:
            self.last_summary = await runner.run()
        except DialerError as exc:
            self.last_error = exc.format()
        except Exception as exc:  # a fault in one run must not take the server down
            self.last_error = f"run failed: {type(exc).__name__}: {exc}"
        finally:
            await runner.backend.aclose()
            cursor.close()
            self._changed(None)

    def stop(self) -> bool:
        """First: no new dials, calls in progress end normally. Again: hang them up."""
        if not self.busy:
            return False
        self._runner.request_stop()
        self._changed(None)
        return True

    def end_call(self, attempt_id: str | None = None) -> int:
        """Hang up the current call (or one by attempt id); a run goes on to the next lead."""
        if not self.busy:
            return 0
        return self._runner.hang_up(attempt_id)

    async def wait(self) -> RunSummary | None:
        """Until the current run or call ends (tests, the console)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        return self.last_summary

    async def aclose(self) -> None:
        """Shutting down: hang up what is in progress and wait for the log to be written."""
        if self.busy:
            self._runner.request_stop()
            self._runner.request_stop()
            await self.wait()
