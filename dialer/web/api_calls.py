"""Routes that dial: start and stop a campaign run, call one lead, end a call, live status.

Runs execute inside the server (`RunService`), which owns the run log. The legacy
`GET /api/call/status` keeps its path; `GET /api/call/events` streams the same status as
server-sent events on every change, so a dashboard never polls.
"""

# No `from __future__ import annotations`: FastAPI reads these handlers' annotations at runtime.

import asyncio
import json

from pydantic import BaseModel, Field

from dialer.runner.service import RevisionMismatch, RunBusy
from dialer.web.api_common import errors, event_stream
from dialer.web.auth import require
from dialer.web.campaigns import existing_campaign
from dialer.web.errors import BadInput, Conflict
from dialer.web.state import ServerState

_HEARTBEAT_S = 15.0


class StartRun(BaseModel):
    """A campaign run (the legacy auto-next: dial lead after lead until none is due)."""

    campaign: str = Field(description="Campaign name (the file stem: campaigns/q4.yaml is q4).")
    max_calls: int | None = Field(None, ge=1, description="Stop after this many dials.")
    concurrency: int | None = Field(
        None, ge=1, le=10_000, description="Calls in flight at once (overrides pacing)."
    )
    wait: bool = Field(False, description="Keep running until retries and windows come due.")
    retry_unknown: bool = Field(False, description="Redial attempts whose result is unknown.")
    revision: str | None = Field(
        None,
        max_length=64,
        description="The campaign's content hash the caller expects; 409 when the server's "
        "file differs (`dialer run --server` sends its own copy's).",
    )


class CallOne(BaseModel):
    """One call now, to one lead, under the same rules as `dialer call`."""

    campaign: str = Field(description="Campaign name (the file stem).")
    lead: int | None = Field(None, ge=1, description="1-based row of the lead source.")
    phone: str | None = Field(None, max_length=64, description="Or: the lead with this number.")
    force_window: str | None = Field(
        None,
        max_length=500,
        description="Call outside the lead's window; the reason is written to the run log.",
    )


class EndCall(BaseModel):
    attempt_id: str | None = Field(None, description="This call; default: every call in progress.")


def router(state: ServerState):
    """The dialing routes of one app (viewer watches, operator dials and stops)."""
    from fastapi import APIRouter, Depends, Request
    from fastapi.responses import Response, StreamingResponse

    api = APIRouter(tags=["calls"])
    viewer, operator = [Depends(require("viewer"))], [Depends(require("operator"))]

    def service():
        return state.runs

    @api.get("/api/call/status", dependencies=viewer, responses=errors())
    async def call_status():
        """Live status: `{"ok": true, "state": "idle" | "running" | "stopping", "kind": "run" |
        "call" | null, "campaign", "run_id", "current_lead", "call_state", "in_flight", "calls":
        [{"attempt_id", "lead_row", "lead", "state", "since"}], "dialed", "total", "statuses",
        "dispositions", "last_call", "last_error", "summary"?}`."""
        return {"ok": True, "running": service().busy, **service().status()}

    @api.get(
        "/api/call/events",
        dependencies=viewer,
        response_class=Response,
        responses={**errors(), **event_stream("The live status, one event per change")},
    )
    async def call_events(request: Request):
        """The status above as server-sent events (`data: {...}`), one on connect and one on
        every change; a comment line every 15 s keeps proxies from closing the stream."""

        async def stream():
            version = -1
            while not await request.is_disconnected():
                runs = service()
                if runs.version != version:
                    status = runs.status()
                    version = status["version"]
                    yield f"data: {json.dumps({'running': runs.busy, **status})}\n\n"
                    await asyncio.sleep(0.1)  # coalesce bursts: at most ten updates a second
                    continue
                if await runs.wait_change(version, timeout=_HEARTBEAT_S) == version:
                    yield ": keep-alive\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.post("/api/call/start", dependencies=operator, responses=errors(400, 404, 409))
    async def start_run(body: StartRun):
        """Start dialing the campaign: `{"ok": true, "run_id"}`; 409 while a run or call is in
        progress or when `revision` is not the server's, 422 when the campaign is invalid."""
        path = existing_campaign(state.config.campaigns_dir, body.campaign)
        try:
            run_id = await service().start_run(
                path,
                max_calls=body.max_calls,
                concurrency=body.concurrency,
                wait=body.wait,
                retry_unknown=body.retry_unknown,
                revision=body.revision,
            )
        except (RunBusy, RevisionMismatch) as exc:
            raise Conflict(exc.message, hint=exc.hint) from None
        return {"ok": True, "run_id": run_id}

    @api.post("/api/call/one", dependencies=operator, responses=errors(400, 404, 409))
    async def call_one(body: CallOne):
        """Call one lead now: `{"ok": true, "run_id"}`. A lead that must not be dialed (suppressed,
        attempts used, outside its window without `force_window`) is a 400 saying why."""
        if (body.lead is None) == (body.phone is None):
            raise BadInput("give exactly one of lead or phone")
        path = existing_campaign(state.config.campaigns_dir, body.campaign)
        try:
            run_id = await service().call(path, body.lead, body.phone, body.force_window)
        except RunBusy as exc:
            raise Conflict(exc.message, hint=exc.hint) from None
        return {"ok": True, "run_id": run_id}

    @api.post("/api/call/stop", dependencies=operator, responses=errors())
    async def stop():
        """Stop the run: no new dials, calls in progress end normally; a second stop hangs them
        up. `{"ok": true, "stopping": bool}` (false when nothing was running)."""
        return {"ok": True, "stopping": service().stop()}

    @api.post("/api/call/end", dependencies=operator, responses=errors(400))
    async def end_call(body: EndCall | None = None):
        """Hang up the current call (or `attempt_id`); a run goes on with the next lead.
        `{"ok": true, "ended": N}`."""
        return {"ok": True, "ended": service().end_call(body.attempt_id if body else None)}

    return api
