"""Test helpers for the agent worker: a scripted LLM, call specs, a local report endpoint."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from dialer.livekit.spec import CallSpec

KEY, SECRET = "devkey", "devsecret-devsecret-devsecret-0123"


def make_spec(**over: Any) -> CallSpec:
    values: dict[str, Any] = {
        "attempt_id": "a-1",
        "campaign": "demo",
        "phone": "+15555550100",
        "instructions": "You are Ana from Acme. Be brief.",
        "opening": "Hi, this is Ana from Acme.",
        "report_url": "http://127.0.0.1:9/reports",
        "sip_trunk_id": "ST_test",
        "caller_id": "+15555550199",
        "transfer_to": "+15555550142",
        "lead_timezone": "America/New_York",
        "dispositions": ["interested", "not_interested", "callback", "do_not_call"],
        "ring_timeout": 20.0,
        "max_call_duration": 300.0,
    }
    values.update(over)
    return CallSpec(**values)


def scripted_llm(turns: list[Any] | Callable[[Any], Any]) -> Any:
    """An `llm.LLM` that answers each request with the next scripted turn.

    A turn is a string (the assistant says it) or a list of `(tool_name, arguments)` pairs (the
    assistant calls them). When the script runs out the model says "ok". `turns` may instead be
    a function of the request's chat context that returns the turn (answers by what was said).
    """
    from livekit.agents import llm
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

    script = [] if callable(turns) else list(turns)

    class Stream(llm.LLMStream):
        def __init__(self, owner: Any, turn: Any, **kw: Any) -> None:
            super().__init__(owner, **kw)
            self._turn = turn

        async def _run(self) -> None:
            if isinstance(self._turn, str):
                delta = llm.ChoiceDelta(role="assistant", content=self._turn)
            else:
                calls = [
                    llm.FunctionToolCall(name=name, arguments=json.dumps(args), call_id=f"c{i}")
                    for i, (name, args) in enumerate(self._turn)
                ]
                delta = llm.ChoiceDelta(role="assistant", tool_calls=calls)
            self._event_ch.send_nowait(llm.ChatChunk(id="x", delta=delta))

    class ScriptedLLM(llm.LLM):
        requests: list[Any] = []

        def chat(
            self,
            *,
            chat_ctx: Any,
            tools: Any = None,
            conn_options: Any = DEFAULT_API_CONNECT_OPTIONS,
            **_: Any,
        ) -> Any:
            self.requests.append(chat_ctx)
            if callable(turns):
                turn = turns(chat_ctx)
            else:
                turn = script.pop(0) if script else "ok"
            return Stream(
                self, turn, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
            )

    return ScriptedLLM()


class ReportSink:
    """A local HTTP endpoint for reports: verifies signatures, answers with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[dict] = []  # every request: {"status": answered, "body": parsed}
        self.accepted: list[dict] = []
        self.url = ""
        self._runner: Any = None
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> ReportSink:
        from aiohttp import web

        from dialer.livekit.spec import SpecError, verify_report

        async def handle(request: Any) -> Any:
            body = await request.read()
            try:
                verify_report(body, request.headers.get("Authorization"), KEY, SECRET)
            except SpecError as exc:
                self.received.append({"status": 401, "error": str(exc)})
                return web.Response(status=401, text=str(exc))
            status = self.statuses.pop(0) if self.statuses else 200
            data = json.loads(body)
            self.received.append({"status": status, "body": data})
            if 200 <= status < 300:
                self.accepted.append(data)
                self.arrived.set()
            return web.Response(status=status, text="{}")

        app = web.Application()
        app.router.add_post("/reports", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/reports"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._runner.cleanup()


class FakeControl:
    """`CallControl` for tests: answers, or raises what `on_dial` raises; records every request."""

    def __init__(
        self,
        on_dial: Callable[[Any], Any] | None = None,
        transfer_status: int | None = None,
    ) -> None:
        self.on_dial = on_dial
        self.transfer_status = transfer_status
        self.dials: list[Any] = []
        self.transfers: list[Any] = []
        self.deleted: list[str] = []
        self.recordings: list[tuple[str, str]] = []

    async def create_sip_participant(self, request: Any) -> Any:
        from livekit import api

        self.dials.append(request)
        if self.on_dial is not None:
            self.on_dial(request)
        return api.SIPParticipantInfo(
            participant_identity=request.participant_identity, room_name=request.room_name
        )

    async def transfer_sip_participant(self, request: Any) -> Any:
        from livekit import api

        self.transfers.append(request)
        status = self.transfer_status
        if status is None:
            status = api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL
        return api.TransferSIPParticipantResponse(transfer_id="TR_1", status=status)

    async def delete_room(self, room: str) -> None:
        self.deleted.append(room)

    async def start_audio_recording(self, room: str, filepath: str) -> str:
        self.recordings.append((room, filepath))
        return "EG_1"
