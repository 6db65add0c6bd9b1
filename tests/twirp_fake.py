"""A local stand-in for LiveKit's Twirp API, plus an in-test worker that answers dispatches.

The server decodes the real protobuf requests the real `livekit-api` client sends (with the
livekit.protocol classes' `FromString`), records them, answers protobuf like LiveKit does, and
can answer Twirp JSON errors. It runs its own event loop in a thread on 127.0.0.1 (a free port),
so the runner can be driven in-process or as a subprocess; it stops when the test ends, and by
itself after `lifetime` seconds if a test forgets.

The worker is a function of the dispatched `CallSpec` returning the `CallReport` to POST (signed)
to `spec.report_url`, or None to never report (for the watchdog).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from livekit import api  # noqa: TID253 - a test helper; tests may import livekit
from livekit.protocol import agent  # noqa: TID253

from dialer.livekit.spec import CallReport, CallSpec, is_probe, sign_report

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-0123456789"

# /twirp/livekit.<Service>/<Method> -> (request class, response factory name)
METHODS = {
    "AgentDispatchService/CreateDispatch": api.CreateAgentDispatchRequest,
    "AgentDispatchService/ListDispatch": api.ListAgentDispatchRequest,
    "AgentDispatchService/DeleteDispatch": api.DeleteAgentDispatchRequest,
    "RoomService/DeleteRoom": api.DeleteRoomRequest,
    "RoomService/ListRooms": api.ListRoomsRequest,
    "SIP/ListSIPOutboundTrunk": api.ListSIPOutboundTrunkRequest,
    "SIP/CreateSIPOutboundTrunk": api.CreateSIPOutboundTrunkRequest,
}


@dataclass
class TwirpError:
    http_status: int
    code: str
    msg: str
    meta: dict[str, str] = field(default_factory=dict)


Worker = Callable[[CallSpec], CallReport | None]


class TwirpFake:
    """`with TwirpFake(worker=...) as fake:` then point LIVEKIT_URL at `fake.url`."""

    def __init__(
        self,
        worker: Worker | None = None,
        *,
        errors: dict[str, TwirpError] | None = None,
        trunks: list | None = None,
        lifetime: float = 120.0,
        report_delay: float = 0.0,
        agent_names: tuple[str, ...] = ("dialer", "dialer-test"),
        key: str = KEY,
        secret: str = SECRET,
    ) -> None:
        self.worker = worker
        self.errors = errors or {}  # method ("SIP/ListSIPOutboundTrunk") -> error to answer
        self.trunks = list(trunks or [])
        self.lifetime = lifetime
        self.report_delay = report_delay  # seconds the worker "talks" before it reports
        self.agent_names = set(agent_names)  # names the worker registered (for doctor's probe)
        self.dispatches: list = []
        self.key, self.secret = key, secret
        self.requests: list[tuple[str, object]] = []
        self.report_answers: list[int] = []  # HTTP status of each report the worker posted
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task] = set()
        self._http = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "LIVEKIT_URL": self.url,
            "LIVEKIT_API_KEY": self.key,
            "LIVEKIT_API_SECRET": self.secret,
        }

    def calls(self, method: str) -> list:
        return [msg for name, msg in self.requests if name == method]

    # ----- lifetime ------------------------------------------------------------------------
    def __enter__(self) -> TwirpFake:
        self._thread = threading.Thread(target=self._main, name="twirp-fake", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("twirp fake did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/twirp/livekit.{service}/{method}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop.wait(), self.lifetime)
        except TimeoutError:
            pass
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        await runner.cleanup()

    # ----- Twirp ---------------------------------------------------------------------------
    async def _handle(self, request):
        from aiohttp import web

        name = f"{request.match_info['service']}/{request.match_info['method']}"
        cls = METHODS.get(name)
        if cls is None:
            return _error(web, TwirpError(404, "bad_route", f"no handler for {name}"))
        if request.content_type != "application/protobuf":
            return _error(web, TwirpError(415, "malformed", "expected application/protobuf"))
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(web, TwirpError(401, "unauthenticated", "no token"))
        message = cls.FromString(await request.read())
        self.requests.append((name, message))
        if name in self.errors:
            return _error(web, self.errors[name])
        reply = self._answer(name, message)
        return web.Response(body=reply.SerializeToString(), content_type="application/protobuf")

    def _answer(self, name: str, message):
        if name == "AgentDispatchService/CreateDispatch":
            n = len(self.calls(name))
            if is_probe(message.metadata):  # `dialer doctor`: a worker takes it when there is one
                dispatch = api.AgentDispatch(
                    id=f"AD_{n:06d}", agent_name=message.agent_name, room=message.room
                )
                if self.worker is not None and message.agent_name in self.agent_names:
                    job = dispatch.state.jobs.add(agent_name=dispatch.agent_name)
                    job.state.worker_id = "AW_fake"
                    job.state.status = agent.JobStatus.JS_SUCCESS
                self.dispatches.append(dispatch)
                return dispatch
            if self.worker is not None:
                task = asyncio.ensure_future(self._work(message.metadata))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return api.AgentDispatch(
                id=f"AD_{n:06d}",
                agent_name=message.agent_name,
                room=message.room,
                metadata=message.metadata,
            )
        if name == "AgentDispatchService/ListDispatch":
            return api.ListAgentDispatchResponse(
                agent_dispatches=[
                    d
                    for d in self.dispatches
                    if d.room == message.room
                    and (not message.dispatch_id or d.id == message.dispatch_id)
                ]
            )
        if name == "AgentDispatchService/DeleteDispatch":
            gone = [d for d in self.dispatches if d.id == message.dispatch_id]
            self.dispatches = [d for d in self.dispatches if d.id != message.dispatch_id]
            return gone[0] if gone else api.AgentDispatch()
        if name == "RoomService/DeleteRoom":
            return api.DeleteRoomResponse()
        if name == "RoomService/ListRooms":
            return api.ListRoomsResponse()
        if name == "SIP/ListSIPOutboundTrunk":
            return api.ListSIPOutboundTrunkResponse(items=self.trunks)
        if name == "SIP/CreateSIPOutboundTrunk":
            trunk = api.SIPOutboundTrunkInfo()
            trunk.CopyFrom(message.trunk)
            trunk.sip_trunk_id = f"ST_fake{len(self.trunks) + 1}"
            self.trunks.append(trunk)
            return trunk
        raise AssertionError(name)

    async def _work(self, metadata: str) -> None:
        """The in-test worker: read the spec, POST the signed report like `dialer agent` does."""
        import aiohttp

        spec = CallSpec.from_json(metadata)
        report = self.worker(spec)
        if report is None:
            return
        if self.report_delay:
            await asyncio.sleep(self.report_delay)
        body = report.to_json().encode()
        headers = {
            "Authorization": sign_report(body, self.key, self.secret),
            "Content-Type": "application/json",
        }
        if self._http is None:  # one session for all reports, like a long-lived worker
            self._http = aiohttp.ClientSession()
        async with self._http.post(spec.report_url, data=body, headers=headers) as resp:
            self.report_answers.append(resp.status)


def _error(web, err: TwirpError):
    body = {"code": err.code, "msg": err.msg}
    if err.meta:
        body["meta"] = err.meta
    return web.Response(
        status=err.http_status, text=json.dumps(body), content_type="application/json"
    )
