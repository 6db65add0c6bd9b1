"""Dial outcomes: the real livekit-api client against a local Twirp server → call statuses."""

from __future__ import annotations

import asyncio
import json

import pytest

from dialer.agent.dial import LiveKitCallControl, dial_lead
from dialer.agent.state import CallState
from tests.agent_helpers import KEY, SECRET, FakeControl, make_spec


class TwirpStub:
    """`/twirp/livekit.SIP/CreateSIPParticipant` on 127.0.0.1: decodes the real protobuf and
    answers with a SIPParticipantInfo, or a Twirp JSON error like LiveKit's."""

    def __init__(self, error: dict | None = None, http_status: int = 503) -> None:
        self.error, self.http_status = error, http_status
        self.requests: list = []

    async def __aenter__(self) -> TwirpStub:
        from aiohttp import web
        from livekit import api

        async def create(request):
            msg = api.CreateSIPParticipantRequest.FromString(await request.read())
            self.requests.append(msg)
            if self.error is not None:
                return web.Response(
                    status=self.http_status,
                    text=json.dumps(self.error),
                    content_type="application/json",
                )
            info = api.SIPParticipantInfo(
                participant_id="PA_1",
                participant_identity=msg.participant_identity,
                room_name=msg.room_name,
                sip_call_id="SCL_1",
            )
            return web.Response(body=info.SerializeToString(), content_type="application/protobuf")

        app = web.Application()
        app.router.add_post("/twirp/livekit.SIP/CreateSIPParticipant", create)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()


async def dial_via_stub(error: dict | None, http_status: int = 503):
    from livekit import api

    spec = make_spec(ring_timeout=25, max_call_duration=240)
    state = CallState(spec=spec, room="call-a-1", sip_identity="lead-a-1")
    async with TwirpStub(error, http_status) as stub:
        async with api.LiveKitAPI(stub.url, KEY, SECRET) as lkapi:
            answered = await dial_lead(spec, state, LiveKitCallControl(lkapi))
    return answered, state, stub.requests


def sip_error(code: str, twirp: str = "unavailable") -> dict:
    return {"code": twirp, "msg": "sip call failed", "meta": {"sip_status_code": code}}


def test_answered_dial_sends_the_full_request():
    answered, state, [req] = asyncio.run(dial_via_stub(None))
    assert answered and state.status is None
    assert state.answered_at is not None and state.dialed_at <= state.answered_at
    assert (req.sip_trunk_id, req.sip_call_to, req.sip_number) == (
        "ST_test",
        "+15555550100",
        "+15555550199",
    )
    assert (req.room_name, req.participant_identity) == ("call-a-1", "lead-a-1")
    assert req.wait_until_answered and not req.play_dialtone
    assert req.ringing_timeout.seconds == 25
    assert req.max_call_duration.seconds >= 240


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("486", "busy"),
        ("600", "busy"),
        ("603", "busy"),
        ("408", "no_answer"),
        ("480", "no_answer"),
        ("487", "no_answer"),
        ("404", "invalid_number"),
        ("484", "invalid_number"),
        ("503", "failed"),
    ],
)
def test_sip_codes_map_to_statuses_and_are_kept(code, status):
    answered, state, _ = asyncio.run(dial_via_stub(sip_error(code)))
    assert not answered
    assert (state.status, state.sip_status) == (status, int(code))
    assert code in state.error
    assert state.answered_at is None


def test_sip_error_with_a_4xx_http_status_maps_too():
    # LiveKit may answer a rejected INVITE with a non-5xx Twirp code (no retries for 4xx)
    answered, state, _ = asyncio.run(
        dial_via_stub(sip_error("486", "resource_exhausted"), http_status=429)
    )
    assert (answered, state.status, state.sip_status) == (False, "busy", 486)


@pytest.mark.parametrize("twirp", ["deadline_exceeded", "canceled"])
def test_ring_timeout_without_a_code_is_no_answer(twirp):
    error = {"code": twirp, "msg": "ringing timeout"}
    answered, state, _ = asyncio.run(dial_via_stub(error, http_status=408))
    assert (answered, state.status, state.sip_status, state.error) == (
        False,
        "no_answer",
        None,
        None,
    )


def test_other_api_errors_fail_with_the_text():
    error = {"code": "not_found", "msg": "trunk ST_test not found"}
    answered, state, _ = asyncio.run(dial_via_stub(error, http_status=404))
    assert (answered, state.status, state.sip_status) == (False, "failed", None)
    assert "trunk ST_test not found" in state.error


def test_client_timeout_is_no_answer():
    def hang(_request):
        raise TimeoutError

    spec = make_spec()
    state = CallState(spec=spec, room="r", sip_identity="lead-a-1")
    answered = asyncio.run(dial_lead(spec, state, FakeControl(on_dial=hang)))
    assert (answered, state.status) == (False, "no_answer")


def test_unreachable_server_is_failed():
    from livekit import api

    async def main():
        spec = make_spec()
        state = CallState(spec=spec, room="r", sip_identity="lead-a-1")
        # port 9 (discard) on loopback: connection refused
        async with api.LiveKitAPI("http://127.0.0.1:9", KEY, SECRET) as lkapi:
            answered = await dial_lead(spec, state, LiveKitCallControl(lkapi))
        return answered, state

    answered, state = asyncio.run(main())
    assert (answered, state.status) == (False, "failed")
    assert state.error.startswith("dial failed:")
