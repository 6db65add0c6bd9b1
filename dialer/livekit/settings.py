"""Where LiveKit is and how the runner listens for reports: settings read from env and `.env`.

Names (environment or the project's `.env`; the real environment wins):

- `LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`: the LiveKit project (Cloud or
  self-hosted).
- `DIALER_REPORT_HOST` (default 127.0.0.1), `DIALER_REPORT_PORT` (default 8089; 0 picks a free
  port): where the runner's report endpoint listens.
- `DIALER_REPORT_URL`: the public URL workers POST reports to, when they cannot reach the
  endpoint directly (a tunnel or a reverse proxy); default `http://HOST:PORT/reports`.
- `DIALER_WATCHDOG_SLACK` (seconds, default 60): added to ring timeout + max call duration before
  the runner gives up on a call's report.
- `DIALER_WEBHOOK_GRACE` (seconds, default 10): after LiveKit says a call's room finished, how
  long a report may still take before the call is closed as `unknown`.
- `DIALER_LATE_REPORT_GRACE` (seconds, default 10): when a run's last call is done and some were
  closed as `unknown`, how long the endpoint stays open for their reports (an opt-out in a late
  report still reaches the DNC table).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dialer.errors import DialerError

CREDENTIALS = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
DEFAULT_REPORT_PORT = 8089


@dataclass(frozen=True)
class LiveKitSettings:
    """The LiveKit project and the runner's report endpoint."""

    url: str
    api_key: str
    api_secret: str
    report_host: str = "127.0.0.1"
    report_port: int = DEFAULT_REPORT_PORT
    report_url: str | None = None
    watchdog_slack: float = 60.0
    webhook_grace: float = 10.0
    late_report_grace: float = 10.0

    def with_endpoint(self, host: str | None = None, port: int | None = None) -> LiveKitSettings:
        return replace(
            self,
            report_host=host if host is not None else self.report_host,
            report_port=port if port is not None else self.report_port,
        )


# Set by a front door (`dialer run --report-port ...`) for the run it starts; the runner's
# `make_backend` reads it. A context variable, so a test's settings never leak into the next.
_current: contextvars.ContextVar[LiveKitSettings | None] = contextvars.ContextVar(
    "dialer_livekit_settings", default=None
)


@contextlib.contextmanager
def using_settings(settings: LiveKitSettings) -> Iterator[None]:
    """Make `settings` the ones `current_settings()` returns inside the block."""
    token = _current.set(settings)
    try:
        yield
    finally:
        _current.reset(token)


def environment(campaign: Path | None = None) -> dict[str, str]:
    """The environment over the `.env` of the campaign's project (or of the current folder)."""
    from dialer.campaign.load import environment_for, read_dotenv

    if campaign is not None:
        return environment_for(campaign)
    env = read_dotenv(Path.cwd() / ".env")
    env.update(os.environ)
    return env


def missing_credentials(env: Mapping[str, str]) -> list[str]:
    return [name for name in CREDENTIALS if not env.get(name, "").strip()]


def settings_from_env(env: Mapping[str, str]) -> LiveKitSettings:
    """Settings from `env`; a one-line DialerError naming what is missing or malformed."""
    missing = missing_credentials(env)
    if missing:
        raise DialerError(
            f"LiveKit credentials missing: {', '.join(missing)}",
            hint="set them in the environment or the project's .env (see `dialer doctor`)",
        )
    return LiveKitSettings(
        url=env["LIVEKIT_URL"].strip(),
        api_key=env["LIVEKIT_API_KEY"].strip(),
        api_secret=env["LIVEKIT_API_SECRET"].strip(),
        report_host=env.get("DIALER_REPORT_HOST", "").strip() or "127.0.0.1",
        report_port=_number(env, "DIALER_REPORT_PORT", DEFAULT_REPORT_PORT, int),
        report_url=env.get("DIALER_REPORT_URL", "").strip() or None,
        watchdog_slack=_number(env, "DIALER_WATCHDOG_SLACK", 60.0, float),
        webhook_grace=_number(env, "DIALER_WEBHOOK_GRACE", 10.0, float),
        late_report_grace=_number(env, "DIALER_LATE_REPORT_GRACE", 10.0, float),
    )


def current_settings() -> LiveKitSettings:
    """The settings a front door chose for this run, else those of the environment and `.env`."""
    chosen = _current.get()
    return chosen if chosen is not None else settings_from_env(environment())


def _number(env: Mapping[str, str], name: str, default, kind):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise DialerError(
            f"{name}: expected a {'whole ' if kind is int else ''}number, got {raw!r}"
        ) from None
    if value < 0:
        raise DialerError(f"{name}: must not be negative, got {raw!r}")
    return value
