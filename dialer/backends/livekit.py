"""Real calls: one LiveKit agent dispatch per dial, closed by the worker's signed report.

For each dial the backend creates an explicit dispatch (the campaign's agent name, restart policy
never, so a crashed job can not dial the lead twice) into a fresh room `dialer-<attempt id>`, with
the `CallSpec` as job metadata, then waits for that attempt's `CallReport` on the report endpoint
(`dialer.livekit.server`). A watchdog (ring timeout + max call duration + slack) closes calls
whose report never comes: the room is deleted (which hangs the phone up) and the dial is
`unknown`, with the reason. A LiveKit webhook saying the room finished shortens that wait to a
grace period. Cancelling `place_call` deletes the room too.

A report that arrives after the watchdog gave up is not lost: the call did happen, and an opt-out
in it must reach the DNC table. It goes to `on_late_result`, which the runner points at the run
log; the attempt's `unknown` is replaced by what the worker saw.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from dialer.backends.base import CallRequest, CallResult
from dialer.errors import DialerError
from dialer.livekit.server import ROOM_PREFIX, ReportServer
from dialer.livekit.settings import LiveKitSettings
from dialer.livekit.spec import CallReport, CallSpec

_ROLES = {"lead": "user"}  # the run log's transcript roles are agent | user | tool
_HANG_UP_TIMEOUT_S = 10.0
# attempts closed as unknown whose late report is still welcome; the oldest are forgotten first
_LATE_KEPT = 10_000


@dataclass
class _Call:
    """One dial waiting for its report."""

    result: asyncio.Future
    room_finished: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""
    timezone: str | None = None


class LiveKitBackend:
    """Dials through LiveKit agent workers; one API client and one report endpoint per run."""

    name = "livekit"

    def __init__(self, clock, settings: LiveKitSettings) -> None:
        self.clock = clock
        self.settings = settings
        self.server = ReportServer(settings, self)
        self.dispatched = 0
        self._calls: dict[str, _Call] = {}
        self._closed: set[str] = set()  # attempts that already have a result: a report is a replay
        self._late: dict[str, str | None] = {}  # closed as unknown: attempt id -> lead timezone
        self.on_late_result = None  # set by the runner: (attempt_id, CallResult) -> None
        self._late_came: asyncio.Event | None = None
        self._lk = None
        self._http = None
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        # Bind now, not at the first dial: a taken port is an error at start, not N failed dials.
        self._sock = _bind(settings.report_host, settings.report_port)
        self.server.port = self._sock.getsockname()[1]

    @property
    def report_url(self) -> str:
        return self.server.report_url

    async def start(self) -> None:
        """Open the API client and serve the report endpoint (done by the first dial if needed)."""
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            import aiohttp
            from livekit import api

            await self.server.start(sock=self._sock)
            # One HTTP session for the whole run; enough connections for a wide worker pool.
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=15),
                connector=aiohttp.TCPConnector(limit=512),
            )
            self._lk = api.LiveKitAPI(
                self.settings.url,
                self.settings.api_key,
                self.settings.api_secret,
                session=self._http,
            )
            self._started = True

    async def aclose(self) -> None:
        await self.server.aclose()
        if self._lk is not None:
            await self._lk.aclose()
            self._lk = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if not self._started:
            self._sock.close()
        self._started = False

    # ----- one dial -----------------------------------------------------------------------
    async def place_call(self, request: CallRequest) -> CallResult:
        await self.start()
        attempt_id = request.attempt_id
        room = ROOM_PREFIX + attempt_id
        call = _Call(asyncio.get_running_loop().create_future(), timezone=request.lead_timezone)
        # Registered before the dispatch: a fast worker may report before create_dispatch returns.
        self._calls[attempt_id] = call
        try:
            failure = await self._dispatch(request, room)
            if failure is not None:
                return failure
            if request.on_state is not None:
                request.on_state("dispatched: waiting for an agent worker to dial")
            result = await self._await_report(request, call, room)
            if result.status == "unknown":
                self._late[attempt_id] = request.lead_timezone
                while len(self._late) > _LATE_KEPT:
                    self._late.pop(next(iter(self._late)))
            return result
        except asyncio.CancelledError:
            await self._hang_up(room)
            raise
        finally:
            self._calls.pop(attempt_id, None)
            self._closed.add(attempt_id)

    def call_spec(self, request: CallRequest) -> CallSpec:
        prompts = request.prompts
        return CallSpec(
            attempt_id=request.attempt_id,
            campaign=request.campaign,
            phone=request.phone,
            instructions=prompts.instructions,
            opening=prompts.opening,
            report_url=self.report_url,
            sip_trunk_id=request.sip_trunk_id or "",
            caller_id=request.caller_id or "",
            transfer_to=request.transfer_to or "",
            lead_timezone=request.lead_timezone or "",
            voice=prompts.voice,
            model=request.model or "",
            temperature=prompts.temperature,
            max_call_duration=request.max_call_duration,
            ring_timeout=request.ring_timeout,
            dispositions=list(request.dispositions),
            voicemail=prompts.voicemail,
            recording=request.recording,
            noise_cancellation=request.noise_cancellation,
            variant=prompts.variant,
            revision=request.revision,
        )

    async def _dispatch(self, request: CallRequest, room: str) -> CallResult | None:
        """Create the dispatch; a failed dial (not an exception) when LiveKit refuses or is down."""
        import aiohttp
        from livekit import api

        metadata = self.call_spec(request).to_json()
        try:
            await self._lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=request.agent_name,
                    room=room,
                    metadata=metadata,
                    restart_policy=api.JobRestartPolicy.JRP_NEVER,
                    attributes={"dialer.attempt_id": request.attempt_id},
                )
            )
        except api.ServerError as exc:
            return self._failed(f"dispatch refused by LiveKit: {exc.code}: {exc.message}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            return self._failed(f"dispatch failed, LiveKit unreachable: {detail}")
        self.dispatched += 1
        return None

    def _failed(self, error: str) -> CallResult:
        return CallResult(status="failed", ended_at=self.clock.timestamp(), error=error)

    async def _await_report(self, request: CallRequest, call: _Call, room: str) -> CallResult:
        deadline = request.ring_timeout + request.max_call_duration + self.settings.watchdog_slack
        watchdog = asyncio.ensure_future(self.clock.sleep(deadline))
        finished = asyncio.ensure_future(call.room_finished.wait())
        helpers = [watchdog, finished]
        try:
            await asyncio.wait({call.result, watchdog, finished}, return_when="FIRST_COMPLETED")
            if call.result.done():
                return call.result.result()
            if finished.done() and not watchdog.done():
                grace = asyncio.ensure_future(self.clock.sleep(self.settings.webhook_grace))
                helpers.append(grace)
                await asyncio.wait({call.result, watchdog, grace}, return_when="FIRST_COMPLETED")
                if call.result.done():
                    return call.result.result()
                reason = (
                    f"{call.reason}, and no report came within {self.settings.webhook_grace:g}s"
                )
            else:
                reason = (
                    f"no report within {deadline:g}s (ring timeout + max call duration + "
                    f"{self.settings.watchdog_slack:g}s slack): room deleted"
                )
            await self._hang_up(room)
            return CallResult(status="unknown", ended_at=self.clock.timestamp(), error=reason)
        finally:
            for task in helpers:
                task.cancel()

    async def _hang_up(self, room: str) -> None:
        """Delete the call's room: LiveKit sends BYE to the phone. Best effort."""
        if self._lk is None:
            return
        from livekit import api

        try:
            async with asyncio.timeout(_HANG_UP_TIMEOUT_S):
                await self._lk.room.delete_room(api.DeleteRoomRequest(room=room))
        except Exception:  # already gone, or LiveKit unreachable: nothing more to do here
            pass

    @property
    def late_pending(self) -> int:
        """Calls closed as unknown whose report could still come."""
        return len(self._late)

    async def drain_late_reports(self) -> None:
        """At the end of a run: keep the endpoint open a while for reports of unknown calls."""
        grace = self.settings.late_report_grace
        if not self._late or grace <= 0 or not self._started:
            return
        self._late_came = asyncio.Event()
        try:
            async with asyncio.timeout(grace):
                while self._late:
                    await self._late_came.wait()
                    self._late_came.clear()
        except TimeoutError:
            pass
        finally:
            self._late_came = None

    # ----- the report endpoint's sink -----------------------------------------------------
    def accept_report(self, report: CallReport) -> tuple[int, str]:
        call = self._calls.get(report.attempt_id)
        if call is None:
            if report.attempt_id in self._late and self.on_late_result is not None:
                timezone = self._late.pop(report.attempt_id)
                now = self.clock.timestamp()
                self.on_late_result(report.attempt_id, result_from_report(report, timezone, now))
                if self._late_came is not None:
                    self._late_came.set()
                return 200, f"late report for {report.attempt_id} recorded"
            if report.attempt_id in self._closed:
                return 409, f"attempt {report.attempt_id} already has a result"
            return 404, f"no call in flight with attempt id {report.attempt_id!r}"
        if call.result.done():
            return 409, f"attempt {report.attempt_id} already reported"
        call.result.set_result(result_from_report(report, call.timezone, self.clock.timestamp()))
        return 200, "ok"

    def room_finished(self, attempt_id: str, reason: str) -> None:
        call = self._calls.get(attempt_id)
        if call is not None and not call.room_finished.is_set():
            call.reason = reason
            call.room_finished.set()


def result_from_report(report: CallReport, timezone: str | None, now: float) -> CallResult:
    """The run log's view of a worker's report: epochs, and transcript rows."""
    callback_at, error = None, report.error
    if report.callback_at:
        try:
            when = datetime.fromisoformat(report.callback_at)
            if when.tzinfo is None:  # a local time without offset is the lead's local time
                when = when.replace(tzinfo=ZoneInfo(timezone or "UTC"))
            callback_at = when.timestamp()
        except (ValueError, KeyError):
            note = f"callback_at {report.callback_at!r} is not an ISO time; ignored"
            error = f"{error}; {note}" if error else note
    return CallResult(
        status=report.status,
        disposition=report.disposition,
        answered_at=report.answered_at,
        ended_at=report.ended_at or now,
        sip_status=report.sip_status,
        callback_at=callback_at,
        error=error,
        transcript=[
            (line.at, _ROLES.get(line.role, line.role), line.text) for line in report.transcript
        ],
    )


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise DialerError(
            f"report endpoint: cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise DialerError(
            f"report endpoint: cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --report-port (or DIALER_REPORT_PORT); 0 picks a free one",
        ) from None
    return sock
