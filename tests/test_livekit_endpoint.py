"""The report endpoint and the LiveKit backend's call lifecycle, against the local Twirp fake."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from livekit import api  # noqa: TID253 - tests sign webhooks with the real library

from dialer.backends.base import CallRequest
from dialer.backends.livekit import LiveKitBackend
from dialer.campaign.schema import Simulate
from dialer.campaign.templates import Rendered
from dialer.livekit.settings import LiveKitSettings
from dialer.livekit.spec import CallReport, sign_report
from dialer.schedule.clock import RealClock

from .twirp_fake import KEY, SECRET, TwirpFake


def request(attempt_id: str = "run1-000001", ring: float = 20, talk: float = 60) -> CallRequest:
    rendered = Rendered(None, "You are Sam.", "Hi Avery.", None, "Leda", 0.2)
    return CallRequest(
        attempt_id=attempt_id,
        campaign="Test",
        phone="+12015550123",
        lead_key="+12015550123",
        lead={},
        lead_timezone="America/New_York",
        attempt_no=1,
        variant=None,
        revision="r1",
        dispositions=["interested", "do_not_call"],
        max_call_duration=talk,
        ring_timeout=ring,
        simulate=Simulate(),
        render=lambda: rendered,
        render_text=lambda f: getattr(rendered, f),
        agent_name="dialer",
    )


def settings(fake: TwirpFake, **kw) -> LiveKitSettings:
    return LiveKitSettings(fake.url, KEY, SECRET, report_port=0, **kw)


async def until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.002)


async def post(url: str, body: bytes, authorization: str | None) -> tuple[int, str]:
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


def signed(report: CallReport | bytes) -> tuple[bytes, str]:
    body = report if isinstance(report, bytes) else report.to_json().encode()
    return body, sign_report(body, KEY, SECRET)


def test_report_endpoint_answers():
    async def main():
        with TwirpFake() as fake:
            backend = LiveKitBackend(RealClock(), settings(fake))
            try:
                call = asyncio.create_task(backend.place_call(request()))
                await until(lambda: fake.calls("AgentDispatchService/CreateDispatch"))
                url = backend.report_url
                good = CallReport("run1-000001", "completed", "interested", sip_status=200)
                body, auth = signed(good)
                # missing and bad signatures
                assert (await post(url, body, None))[0] == 401
                forged = sign_report(body, KEY, "another-secret-another-secret-0123")
                assert (await post(url, body, forged))[0] == 401
                other_body, _ = signed(CallReport("run1-000001", "busy"))
                assert (await post(url, other_body, auth))[0] == 401  # signature of another body
                # malformed: the field is named
                bad = json.dumps({"attempt_id": "run1-000001", "status": "great"}).encode()
                status, text = await post(url, *signed(bad))
                assert status == 400 and "status: 'great' is not one of" in text
                status, text = await post(url, *signed(b'{"attempt_id": 5, "status": "busy"}'))
                assert status == 400 and "attempt_id: expected str" in text
                # unknown attempt
                status, text = await post(url, *signed(CallReport("nope", "busy")))
                assert status == 404 and "'nope'" in text
                # the real one, then its replay
                assert (await post(url, body, auth))[0] == 200
                result = await call
                assert (result.status, result.disposition, result.sip_status) == (
                    "completed",
                    "interested",
                    200,
                )
                assert (await post(url, body, auth))[0] == 409
                assert backend.server.counters.accepted == 1
            finally:
                await backend.aclose()

    asyncio.run(main())


def test_cancel_hangs_up():
    async def main():
        with TwirpFake() as fake:
            backend = LiveKitBackend(RealClock(), settings(fake))
            try:
                call = asyncio.create_task(backend.place_call(request("run1-000007")))
                await until(lambda: fake.calls("AgentDispatchService/CreateDispatch"))
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                assert [r.room for r in fake.calls("RoomService/DeleteRoom")] == [
                    "dialer-run1-000007"
                ]
                # a late report for a closed call is a replay to the worker: it stops retrying
                status, _ = await post(
                    backend.report_url, *signed(CallReport("run1-000007", "completed"))
                )
                assert status == 409
            finally:
                await backend.aclose()

    asyncio.run(main())


def test_room_finished_webhook_closes_the_call_after_grace():
    async def main():
        with TwirpFake() as fake:
            backend = LiveKitBackend(RealClock(), settings(fake, webhook_grace=0))
            try:
                call = asyncio.create_task(backend.place_call(request("run1-000009")))
                await until(lambda: fake.calls("AgentDispatchService/CreateDispatch"))
                event = api.WebhookEvent(
                    event="room_finished", room=api.Room(name="dialer-run1-000009")
                )
                from google.protobuf.json_format import MessageToJson

                body = MessageToJson(event).encode()
                url = backend.report_url.replace("/reports", "/webhooks")
                assert (await post(url, body, "bad token"))[0] == 401
                assert (await post(url, *signed(body)))[0] == 200
                result = await call
                assert result.status == "unknown"
                assert result.error == (
                    "LiveKit reported the room finished, and no report came within 0s"
                )
                assert [r.room for r in fake.calls("RoomService/DeleteRoom")] == [
                    "dialer-run1-000009"
                ]
            finally:
                await backend.aclose()

    asyncio.run(main())


def test_report_port_taken_is_one_line_error():
    from dialer.errors import DialerError

    with TwirpFake() as fake:
        first = LiveKitBackend(RealClock(), settings(fake))
        try:
            taken = LiveKitSettings(fake.url, KEY, SECRET, report_port=first.server.port)
            with pytest.raises(DialerError, match="report endpoint: cannot listen on 127.0.0.1:"):
                LiveKitBackend(RealClock(), taken)
        finally:
            asyncio.run(first.aclose())
