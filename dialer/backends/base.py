"""The one interface every call backend implements: place a call, get its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dialer.campaign.schema import CALL_STATUSES, Simulate
from dialer.campaign.templates import Rendered

FINAL_STATUSES = CALL_STATUSES  # how a dial can end: the run log's attempts.status values


@dataclass
class CallRequest:
    """Everything a backend needs to place one dial. Prompts render on first use."""

    attempt_id: str
    campaign: str
    phone: str
    lead_key: str
    lead: dict[str, Any]
    lead_timezone: str | None
    attempt_no: int
    variant: str | None
    revision: str
    dispositions: list[str]
    max_call_duration: float
    ring_timeout: float
    simulate: Simulate
    render: Callable[[], Rendered]
    render_text: Callable[[str], str | None]
    sip_trunk_id: str | None = None
    caller_id: str | None = None
    transfer_to: str | None = None
    agent_name: str = "dialer"
    recording: bool = False
    model: str | None = None
    noise_cancellation: bool = True
    # live call state for whoever watches this one call ("ringing", "answered", ...); None in
    # campaign runs, where nobody follows a single call and the simulator saves a timer
    on_state: Callable[[str], None] | None = None
    _rendered: Rendered | None = field(default=None, repr=False)

    def text(self, field: str) -> str | None:
        """One rendered template (opening or voicemail), without rendering the rest."""
        if self._rendered is not None:
            return getattr(self._rendered, field)
        return self.render_text(field)

    @property
    def prompts(self) -> Rendered:
        if self._rendered is None:
            self._rendered = self.render()
        return self._rendered


@dataclass
class CallResult:
    """How a dial ended. Times are epochs (UTC seconds) from the backend's clock."""

    status: str
    disposition: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    sip_status: int | None = None
    callback_at: float | None = None
    error: str | None = None
    transcript: list[tuple[float | None, str, str]] = field(default_factory=list)

    @property
    def opted_out(self) -> bool:
        return self.disposition == "do_not_call"


class CallBackend(Protocol):
    """A place calls go. Cancelling `place_call` must hang the call up.

    A backend may also have `on_late_result`: the runner sets it to a callable taking
    (attempt_id, CallResult) for results that arrive after `place_call` already returned
    `unknown` (a report the watchdog gave up on). They must still reach the run log: an opt-out
    in such a call is an opt-out.
    """

    name: str

    async def place_call(self, request: CallRequest) -> CallResult: ...

    async def aclose(self) -> None: ...
