"""What one call did so far (`CallState`), and the `CallReport` built from it when it ends.

The dial step, the agent's tools and the session's events all write into one `CallState`; the
worker turns it into the single report it posts. Lead-local callback times are parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.livekit.spec import CallReport, CallSpec, TranscriptLine
from dialer.schedule.clock import Clock, RealClock

DO_NOT_CALL = "do_not_call"
CALLBACK = "callback"
TRANSFERRED = "transferred"


@dataclass
class CallState:
    """The facts of one call, filled in as it goes; `build_report` reads them at the end."""

    spec: CallSpec
    room: str = ""
    sip_identity: str = ""
    clock: Clock = field(default_factory=RealClock)
    status: str | None = None  # set when the call ends other than as a conversation
    disposition: str | None = None
    callback_at: str | None = None
    notes: str = ""
    dialed_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    first_audio_at: float | None = None
    sip_status: int | None = None
    error: str | None = None
    transferred: bool = False
    end_reason: str | None = None  # why the agent hung up: end_call, opt_out, voicemail, …
    transcript: list[TranscriptLine] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    tasks: list[Any] = field(default_factory=list)  # asyncio tasks the call started

    def now(self) -> float:
        return self.clock.now().timestamp()

    def add_note(self, text: str) -> None:
        text = text.strip()
        if text:
            self.notes = f"{self.notes}\n{text}" if self.notes else text


def build_report(state: CallState) -> CallReport:
    """The report for an ended (or crashed) call: status, disposition, timings, transcript."""
    status = state.status
    if status is None:
        if state.answered_at is not None:
            status = "completed"
        else:
            status = "failed"
    latency = None
    if state.answered_at is not None and state.first_audio_at is not None:
        latency = round(max(state.first_audio_at - state.answered_at, 0.0), 3)
    return CallReport(
        attempt_id=state.spec.attempt_id,
        status=status,
        disposition=state.disposition,
        callback_at=state.callback_at,
        notes=state.notes,
        dialed_at=state.dialed_at,
        answered_at=state.answered_at,
        ended_at=state.ended_at if state.ended_at is not None else state.now(),
        first_audio_latency_s=latency,
        sip_status=state.sip_status,
        error=state.error,
        transcript=list(state.transcript),
        usage=dict(state.usage),
        room=state.room,
    )


def lead_zone(name: str) -> ZoneInfo:
    """The lead's timezone; UTC when the spec names none."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


_LOCAL = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def parse_callback_time(text: str, tz_name: str, now: datetime) -> datetime:
    """A callback time the model gave, as an aware datetime in the lead's timezone.

    Accepts ISO 8601 (with or without an offset; without one it is lead-local) or
    "YYYY-MM-DD HH:MM". Lead-local wall times get the offset in force on that date (DST), and a
    time inside a spring-forward gap moves forward by the gap, as a wall clock would.
    Raises ValueError, with a message meant for the model, when the time is unusable or past.
    """
    zone = lead_zone(tz_name)
    m = _LOCAL.match(text)
    try:
        if m:
            naive = datetime.fromisoformat(f"{m[1]}T{int(m[2]):02d}:{m[3]}:{m[4] or '00'}")
        else:
            naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected a time like 2026-03-09 14:30 in the lead's timezone, got {text!r}"
        ) from None
    if naive.tzinfo is None:
        # via UTC so that a wall time in a DST gap is normalised to a real instant
        when = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    else:
        when = naive.astimezone(zone)
    if when <= now:
        local_now = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        raise ValueError(f"{when:%Y-%m-%d %H:%M} is in the past; it is now {local_now} there")
    return when
