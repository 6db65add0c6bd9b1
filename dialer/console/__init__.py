"""`dialer console`: the legacy console mode as a terminal UI over the dashboard's library calls.

Pick a campaign, page through its leads with their plan status, type a row number and Enter to
call it (Enter alone calls the next callable lead), N / P to page, q to quit; the call's state
and result show in place. `session` holds the run log and does the work; `app` is the screens
(Textual, imported only when the console starts).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from dialer.console.session import ConsoleSession, default_campaign

__all__ = ["ConsoleSession", "default_campaign", "run_console"]


def run_console(
    root: Path,
    db: Path,
    requested: str | Path | None = None,
    backend: str = "simulate",
    seed: int = 0,
) -> None:
    """Run the console until q. A campaign that is not there and a run log another process
    holds are one-line DialerErrors, raised before the screen is taken over."""
    campaigns_dir = Path(root) / "campaigns"
    default = default_campaign(campaigns_dir, requested)
    session = ConsoleSession.open(root, db, backend=backend, seed=seed)
    asyncio.run(_serve(session, default))


async def _serve(session: ConsoleSession, default: Path | None) -> None:
    from dialer.console.app import ConsoleApp

    try:
        await ConsoleApp(session, default).run_async()
    finally:  # whatever ended the app, a call in progress is hung up and its result written
        await session.aclose()
