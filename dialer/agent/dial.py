"""Placing the call: the small LiveKit boundary the worker talks through, and SIP outcomes.

`CallControl` is everything the worker asks of LiveKit's server API for one call (dial, transfer,
hang up, record). `LiveKitCallControl` implements it over `livekit.api.LiveKitAPI`; tests point
that real client at a local Twirp server, or pass a fake with the same four methods.
`dial_lead` turns the outcome of `create_sip_participant` into `CallState` facts: answered, or a
final status with the SIP code kept (486 busy, 480 no answer, 404 invalid number, …).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from dialer.agent.state import CallState
from dialer.livekit.spec import CallSpec, status_for_sip

log = logging.getLogger("dialer.agent")

# Twirp codes that mean the dial was given up on before anyone answered (ring timeout).
_TIMEOUT_CODES = frozenset({"canceled", "deadline_exceeded"})


class CallControl(Protocol):
    """LiveKit server calls for one call; requests and responses are livekit-protocol messages."""

    async def create_sip_participant(self, request: Any) -> Any: ...

    async def transfer_sip_participant(self, request: Any) -> Any: ...

    async def delete_room(self, room: str) -> None: ...

    async def start_audio_recording(self, room: str, filepath: str) -> str: ...


class LiveKitCallControl:
    """`CallControl` over a `LiveKitAPI` client (which the caller owns and closes)."""

    def __init__(self, lkapi: Any) -> None:
        self.lkapi = lkapi

    async def create_sip_participant(self, request: Any) -> Any:
        return await self.lkapi.sip.create_sip_participant(request)

    async def transfer_sip_participant(self, request: Any) -> Any:
        return await self.lkapi.sip.transfer_sip_participant(request)

    async def delete_room(self, room: str) -> None:
        from livekit import api

        await self.lkapi.room.delete_room(api.DeleteRoomRequest(room=room))

    async def start_audio_recording(self, room: str, filepath: str) -> str:
        """An audio-only room composite egress to `filepath` (storage as configured server-side)."""
        from livekit import api

        info = await self.lkapi.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(
                room_name=room,
                audio_only=True,
                file_outputs=[
                    api.EncodedFileOutput(file_type=api.EncodedFileType.OGG, filepath=filepath)
                ],
            )
        )
        return info.egress_id


def dial_request(spec: CallSpec, room: str, identity: str) -> Any:
    """The `CreateSIPParticipantRequest` for this call: wait for answer, ring and call limits."""
    from google.protobuf.duration_pb2 import Duration
    from livekit import api

    return api.CreateSIPParticipantRequest(
        sip_trunk_id=spec.sip_trunk_id,
        sip_call_to=spec.phone,
        sip_number=spec.caller_id,
        room_name=room,
        participant_identity=identity,
        participant_name="lead",
        wait_until_answered=True,
        play_dialtone=False,
        ringing_timeout=Duration(seconds=max(int(spec.ring_timeout), 1)),
        # the SIP service's own backstop; the worker ends the call politely before it
        max_call_duration=Duration(seconds=int(spec.max_call_duration) + 30),
    )


async def dial_lead(spec: CallSpec, state: CallState, control: CallControl) -> bool:
    """Dial and wait for an answer. True when answered; otherwise `state` has the final status."""
    from livekit import api

    state.dialed_at = state.now()
    try:
        await control.create_sip_participant(dial_request(spec, state.room, state.sip_identity))
    except api.SipCallError as exc:
        code = exc.sip_status_code
        state.sip_status = code
        state.status = status_for_sip(code, timed_out=exc.code in _TIMEOUT_CODES)
        state.error = str(exc)
    except api.ServerError as exc:
        timed_out = exc.code in _TIMEOUT_CODES
        state.status = status_for_sip(None, timed_out=timed_out)
        state.error = None if timed_out else f"dial failed: {exc}"
    except TimeoutError:
        # the HTTP request outlived ring time + margin: nobody answered
        state.status = "no_answer"
    except Exception as exc:  # network, auth, a bad trunk id: the call never happened
        state.status = "failed"
        state.error = f"dial failed: {type(exc).__name__}: {exc}"
    else:
        state.answered_at = state.now()
        return True
    log.info(
        "dial ended without answer",
        extra={"attempt_id": spec.attempt_id, "status": state.status, "sip": state.sip_status},
    )
    return False
