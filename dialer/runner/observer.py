"""What a run tells the people watching it: one event interface, a null and a terminal view."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RunProgress:
    """Live counters of a run, shared by every view."""

    campaign: str = ""
    run_id: str = ""
    revision: str = ""
    state: str = "starting"  # running | stopping | canceling | done
    total: int = 0
    dialed: int = 0
    in_flight: int = 0
    statuses: Counter = field(default_factory=Counter)
    dispositions: Counter = field(default_factory=Counter)
    started_wall: float = field(default_factory=time.monotonic)
    started_at: float = 0.0
    now: float = 0.0
    last_error: str | None = None
    next_dial_at: float | None = None
    # a single call (`dialer call`, a click in the dashboard): who, and where the call is now
    call_lead: str | None = None
    call_state: str | None = None
    calls: dict[str, dict] = field(default_factory=dict)  # in flight, when calls are followed
    last_call: dict | None = None

    @property
    def done(self) -> int:
        return sum(self.statuses.values())

    def rate_per_min(self) -> float:
        span = self.now - self.started_at
        return self.done / span * 60 if span > 0 else 0.0

    def eta_seconds(self) -> float | None:
        rate = self.rate_per_min() / 60
        remaining = max(self.total - self.dialed, 0)
        return remaining / rate if rate > 0 else None


class RunObserver:
    """Receives run events. The runner never prints; views subclass this."""

    def started(self, progress: RunProgress) -> None: ...

    def update(self, progress: RunProgress) -> None: ...

    def message(self, text: str) -> None: ...

    def finished(self, progress: RunProgress) -> None: ...


class TerminalObserver(RunObserver):
    """A rich live panel: in flight, done, per-status counts, rate and ETA."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self._live = None
        self._last = 0.0

    def _render(self, p: RunProgress):
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_row(
            f"[bold]{p.campaign}[/] run {p.run_id} revision {p.revision}", f"[cyan]{p.state}[/]"
        )
        eta = p.eta_seconds()
        table.add_row(
            f"dialed {p.dialed}/{p.total}  in flight {p.in_flight}  done {p.done}",
            f"{p.rate_per_min():.1f}/min  ETA {_fmt(eta) if eta is not None else '-'}",
        )
        if p.statuses:
            table.add_row(
                "  ".join(f"{k} {v}" for k, v in sorted(p.statuses.items())),
                "  ".join(f"{k} {v}" for k, v in p.dispositions.most_common(4)),
            )
        if p.call_state:
            elapsed = time.monotonic() - p.started_wall
            table.add_row(f"{p.call_lead or 'call'}: [bold]{p.call_state}[/]", f"{elapsed:.0f}s")
        if p.last_error:
            table.add_row(f"[red]{p.last_error}[/]", "")
        return table

    def started(self, progress: RunProgress) -> None:
        from rich.live import Live

        self._live = Live(
            self._render(progress), console=self.console, refresh_per_second=4, transient=False
        )
        self._live.start()

    def update(self, progress: RunProgress) -> None:
        now = time.monotonic()
        if self._live is not None and now - self._last > 0.1:
            self._last = now
            self._live.update(self._render(progress))

    def message(self, text: str) -> None:
        self.console.print(text, markup=False)

    def finished(self, progress: RunProgress) -> None:
        if self._live is not None:
            self._live.update(self._render(progress))
            self._live.stop()


class QuietObserver(RunObserver):
    """Messages only (to stderr), for scripts and logs."""

    def started(self, progress: RunProgress) -> None:
        self.message(
            f"run {progress.run_id} started: {progress.campaign} revision "
            f"{progress.revision}, {progress.total} lead(s) to call"
        )

    def update(self, progress: RunProgress) -> None:
        # a single call's state changes are few and worth a line each; a campaign's are not
        if progress.call_state and progress.call_state != self._call_state:
            self._call_state = progress.call_state
            self.message(f"{progress.call_lead or 'call'}: {progress.call_state}")

    _call_state: str | None = None

    def message(self, text: str) -> None:
        import sys

        sys.stderr.write(text + "\n")


def _fmt(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60}m"
    return f"{seconds // 60}m{seconds % 60}s"
