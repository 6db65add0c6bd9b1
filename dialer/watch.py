"""Re-run something whenever a campaign file or one of its prompt files is saved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dialer.errors import DialerError


def watched_files(campaign: Path) -> set[Path]:
    """The campaign file and the prompt files it references (when it loads)."""
    from dialer.campaign.load import load_campaign

    files = {campaign.resolve()}
    try:
        loaded = load_campaign(campaign)
    except DialerError:
        return files
    return files | {f.resolve() for f in loaded.files}


def watch_campaign(
    campaign: Path,
    action: Callable[[], None],
    on_error: Callable[[DialerError], None],
    stop_event=None,
) -> None:
    """Run `action` now and after every save; errors go to `on_error` and watching goes on."""
    import watchfiles

    def run() -> None:
        try:
            action()
        except DialerError as exc:
            on_error(exc)

    run()
    files = watched_files(campaign)
    folders = {f.parent for f in files}
    try:
        for changes in watchfiles.watch(*folders, stop_event=stop_event, debounce=50, step=20):
            files = _react(changes, files, run, campaign)
    except KeyboardInterrupt:
        return


def _react(changes, files: set[Path], run: Callable[[], None], campaign: Path) -> set[Path]:
    changed = {Path(p).resolve() for _, p in changes}
    if changed & files:
        run()
        return watched_files(campaign)
    return files


async def campaign_saves(campaign: Path, stop_event=None):
    """Yield once per save of the campaign file or one of its prompt files (async)."""
    import watchfiles

    files = watched_files(campaign)
    async for changes in watchfiles.awatch(
        *{f.parent for f in files}, stop_event=stop_event, debounce=50, step=20
    ):
        if {Path(p).resolve() for _, p in changes} & files:
            yield
            files = watched_files(campaign)  # a save may add or drop prompt files
