"""The runner's report endpoint: workers POST signed call reports here, LiveKit its webhooks.

`POST /reports` takes one `CallReport` signed like a LiveKit webhook. Answers: 200 accepted;
400 the body is not a report (the message names the field); 401 bad or missing signature; 404 no
call in flight has that attempt id; 409 the attempt already has a result (a replay; the worker
counts 409 as acknowledged). `POST /webhooks` takes LiveKit webhooks (`room_finished`,
`participant_left`) as corroboration. `GET /health` answers 200 `ok dialer <instance>`, for
`dialer doctor` and proxies.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from dialer.errors import DialerError
from dialer.livekit.settings import LiveKitSettings
from dialer.livekit.spec import CallReport, SpecError, verify_report

ROOM_PREFIX = "dialer-"


class ReportSink(Protocol):
    """What the endpoint hands reports and room endings to (the LiveKit backend)."""

    def accept_report(self, report: CallReport) -> tuple[int, str]:
        """(HTTP status, message) for a verified, well-formed report."""
        ...

    def room_finished(self, attempt_id: str, reason: str) -> None: ...


@dataclass
class Counters:
    """What the endpoint has seen, by answer (shown by `dialer doctor` and the bench)."""

    accepted: int = 0
    rejected: int = 0
    webhooks: int = 0


class ReportServer:
    """An aiohttp server in the runner's event loop; `start()` binds, `aclose()` stops it."""

    def __init__(self, settings: LiveKitSettings, sink: ReportSink) -> None:
        self.settings = settings
        self.sink = sink
        self.counters = Counters()
        self.port: int | None = None
        # said by /health, so `dialer doctor` can tell its own endpoint from another one
        self.instance = secrets.token_hex(6)
        self._runner = None
        self._webhooks = None

    @property
    def report_url(self) -> str:
        """Where workers POST: `DIALER_REPORT_URL` if set, else this server's own address."""
        if self.settings.report_url:
            return self.settings.report_url
        host = self.settings.report_host
        if host in ("0.0.0.0", "::", ""):
            import socket

            host = socket.gethostname()
        return f"http://{host}:{self.port}/reports"

    async def start(self, sock=None) -> None:
        """Serve on `sock` (already bound and listening) or bind host:port from the settings."""
        from aiohttp import web

        app = web.Application(client_max_size=8 * 1024 * 1024)  # long transcripts fit
        app.router.add_post("/reports", self._report)
        app.router.add_post("/webhooks", self._webhook)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        if sock is not None:
            site = web.SockSite(self._runner, sock)
        else:
            site = web.TCPSite(self._runner, self.settings.report_host, self.settings.report_port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise DialerError(
                f"report endpoint: cannot listen on "
                f"{self.settings.report_host}:{self.settings.report_port}: {exc.strerror or exc}",
                hint="choose another --report-port (or DIALER_REPORT_PORT); 0 picks a free one",
            ) from None
        self.port = site._server.sockets[0].getsockname()[1]  # the real port when 0 was asked

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request):
        from aiohttp import web

        return web.Response(text=f"ok dialer {self.instance}\n")

    async def _report(self, request):
        from aiohttp import web

        body = await request.read()
        try:
            verify_report(
                body,
                request.headers.get("Authorization"),
                self.settings.api_key,
                self.settings.api_secret,
            )
        except SpecError as exc:
            self.counters.rejected += 1
            return web.Response(status=401, text=f"{exc}\n")
        try:
            report = CallReport.from_json(body)
        except SpecError as exc:
            self.counters.rejected += 1
            return web.Response(status=400, text=f"call report: {exc}\n")
        except TypeError as exc:  # a field of the wrong shape inside a nested object
            self.counters.rejected += 1
            return web.Response(status=400, text=f"call report: {exc}\n")
        status, message = self.sink.accept_report(report)
        if status == 200:
            self.counters.accepted += 1
        else:
            self.counters.rejected += 1
        return web.Response(status=status, text=f"{message}\n")

    async def _webhook(self, request):
        from aiohttp import web
        from livekit import api

        body = (await request.read()).decode("utf-8", "replace")
        receiver = api.WebhookReceiver(
            api.TokenVerifier(self.settings.api_key, self.settings.api_secret)
        )
        try:
            # LiveKit sends the bare token; accept a "Bearer " one too
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            event = receiver.receive(body, token)
        except Exception as exc:  # jwt errors of several types, or a body that is not an event
            return web.Response(status=401, text=f"bad webhook: {exc}\n")
        self.counters.webhooks += 1
        room = event.room.name if event.HasField("room") else ""
        if room.startswith(ROOM_PREFIX):
            attempt_id = room.removeprefix(ROOM_PREFIX)
            if event.event == "room_finished":
                self.sink.room_finished(attempt_id, "LiveKit reported the room finished")
            elif event.event == "participant_left" and event.participant.kind == _sip_kind():
                reason = api.DisconnectReason.Name(event.participant.disconnect_reason)
                self.sink.room_finished(attempt_id, f"the phone leg left the room ({reason})")
        return web.Response(text="ok\n")


def _sip_kind() -> int:
    from livekit import api

    return api.ParticipantInfo.Kind.SIP
