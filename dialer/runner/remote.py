"""`dialer run --server URL`: hand a run to a running `dialer serve` and follow it.

The server owns the run log (DuckDB has one writer), so a run started from the command line
while it serves must execute inside it. This client starts the run over the HTTP API (after
checking that the server's copy of the campaign is the same revision as the local file), follows
the server's live status stream and shows it through the same observers a local run uses.
Ctrl-C asks the server to stop (calls in progress end normally); a second Ctrl-C hangs them up.
"""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dialer.errors import DialerError
from dialer.runner.observer import RunObserver, RunProgress
from dialer.runner.run import RunSummary

_STREAM_TIMEOUT_S = 60.0  # the server sends a keep-alive every 15 s


class RemoteError(DialerError):
    """The server could not be reached, or refused the request."""


class RemoteRun:
    """One run on a server: start it, follow it to the end, stop it on request."""

    def __init__(self, url: str, token: str | None) -> None:
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise RemoteError(f"--server: expected a URL like http://127.0.0.1:4100, got {url!r}")
        self.url = url
        self.token = token
        self.run_id: str | None = None
        self.stops = 0
        self._done = False  # set when following ends; the reader thread then returns

    # ----- HTTP -----------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict | None = None):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            return urllib.request.urlopen(req, timeout=_STREAM_TIMEOUT_S)  # noqa: S310 (http[s] only)
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(
                f"no dialer server answers at {self.url}: {reason}",
                hint="start one with `dialer serve`, or check --server",
            ) from None

    def _call(self, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
        with self._request(method, path, body) as res:
            return json.loads(res.read() or b"{}")

    def _refusal(self, exc: urllib.error.HTTPError) -> RemoteError:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        error = body.get("error") or body.get("detail") or exc.reason
        hint = body.get("hint")
        if exc.code == 401:
            hint = "set DIALER_TOKEN (or --token) to one from `dialer token create --role operator`"
        elif exc.code == 403:
            hint = "starting and stopping runs needs a token with the operator role"
        details = [e.get("text") or e.get("message", "") for e in body.get("errors") or []]
        if details:
            error = f"{error}: " + "; ".join(d for d in details if d)
        return RemoteError(f"server {self.url} refused: {error} (HTTP {exc.code})", hint=hint)

    # ----- the run --------------------------------------------------------------------------
    def start(self, campaign: Path, **options: Any) -> str:
        """Start the campaign on the server; returns the run id.

        The server runs its own file of the same name; the local file's revision goes with the
        request, and a server whose copy differs refuses (rather than dial another prompt).
        """
        from dialer.campaign.load import load_campaign

        loaded = load_campaign(campaign)  # a local mistake is reported here, before the server
        body = {"campaign": Path(campaign).stem, "revision": loaded.revision}
        body.update({k: v for k, v in options.items() if v not in (None, False)})
        self.run_id = self._call("POST", "/api/call/start", body)["run_id"]
        return self.run_id

    def stop(self) -> None:
        """First: no new dials, calls end normally. Again: the server hangs them up."""
        self.stops += 1
        self._call("POST", "/api/call/stop")

    def _read_stream(self, events: queue.Queue) -> None:
        """Reader thread: every status of the server's event stream onto `events`."""
        try:
            with self._request("GET", "/api/call/events") as res:
                while not self._done:
                    line = res.readline()
                    if not line:
                        raise RemoteError(
                            f"server {self.url} closed the status stream before run "
                            f"{self.run_id} ended",
                            hint="see `dialer runs` once the server is back",
                        )
                    if line.startswith(b"data: "):
                        events.put(("status", json.loads(line[6:])))
        except TimeoutError:
            events.put(
                (
                    "error",
                    RemoteError(
                        f"server {self.url} stopped answering (nothing for "
                        f"{_STREAM_TIMEOUT_S:.0f} s)",
                        hint=f"the run may still be going: see {self.url}",
                    ),
                )
            )
        except Exception as exc:  # handed to the main thread, which reports it
            events.put(("error", exc))

    def follow(self, observer: RunObserver) -> RunSummary:
        """Show the run through `observer` until it ends; Ctrl-C stops it (twice: hangs up).

        The stream is read on a thread, so Ctrl-C lands in this loop, never inside a read.
        """
        events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_stream, args=(events,), daemon=True).start()
        try:
            with _interrupts_as_keyboard():
                return self._follow(events, observer)
        finally:
            # the reader notices at its next line (a keep-alive comes every 15 s); closing the
            # response here would block until then, as its read holds the stream
            self._done = True

    def _follow(self, events: queue.Queue, observer: RunObserver) -> RunSummary:
        progress: RunProgress | None = None
        while True:
            try:
                kind, status = events.get(timeout=0.5)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                self._interrupted(observer)
                continue
            if kind == "error":
                raise status
            mine = status.get("run_id") == self.run_id
            if mine and progress is None:
                progress = RunProgress()
                _apply(progress, status)
                observer.started(progress)
            elif mine:
                _apply(progress, status)
                observer.update(progress)
            if status.get("state") != "idle":
                continue
            summary = status.get("summary") or {}
            if progress is not None:
                progress.state = "done"
                observer.finished(progress)
            if summary.get("run_id") == self.run_id:
                return RunSummary(**summary)
            if mine or progress is not None:
                raise RemoteError(
                    f"run {self.run_id} on {self.url} failed: "
                    f"{status.get('last_error') or 'it ended without a summary'}"
                )
            raise RemoteError(
                f"run {self.run_id} ended on {self.url} before it could be followed",
                hint=f"see it with `dialer report --run {self.run_id}` on the server's run log",
            )

    def _interrupted(self, observer: RunObserver) -> None:
        if self.stops >= 2:
            raise KeyboardInterrupt  # a third Ctrl-C: stop following (the server finishes)
        self.stop()
        observer.message(
            "stopping: no new dials, calls in progress end normally (Ctrl-C again hangs up)"
            if self.stops == 1
            else "hanging up the calls in progress"
        )


def _apply(progress: RunProgress, status: dict[str, Any]) -> None:
    """Copy a server status into the observers' progress record."""
    progress.campaign = status.get("campaign") or progress.campaign
    progress.run_id = status.get("run_id") or progress.run_id
    progress.revision = status.get("revision") or progress.revision
    state = status.get("state")
    progress.state = {"running": "running", "stopping": "stopping"}.get(state, progress.state)
    progress.total = status.get("total", progress.total)
    progress.dialed = status.get("dialed", progress.dialed)
    progress.in_flight = status.get("in_flight", progress.in_flight)
    progress.statuses = Counter(status.get("statuses") or {})
    progress.dispositions = Counter(status.get("dispositions") or {})
    progress.last_error = status.get("last_error")
    progress.call_lead = status.get("current_lead")
    progress.call_state = status.get("call_state") if progress.call_lead else None
    progress.calls = {c["attempt_id"]: c for c in status.get("calls") or [] if "attempt_id" in c}
    progress.last_call = status.get("last_call")
    # rate and ETA: on this side's clock, from when following began
    now = time.monotonic()
    if not progress.started_at:
        progress.started_at = now
    progress.now = now


@contextmanager
def _interrupts_as_keyboard():
    """SIGTERM behaves as Ctrl-C while following (a local run treats both alike)."""

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
