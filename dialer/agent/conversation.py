"""The conversation: the agent and its tools, the realtime session, and what it records.

`build_agent` returns the campaign's agent: its instructions plus the tools a call needs
(disposition, callback, opt-out, transfer, voicemail, end call), each writing into the
`CallState`. `build_session` makes the `AgentSession` around a Gemini realtime model (or the LLM
a test passes). `watch_session` copies transcript lines, first-audio time and usage into the
state. Ending tools share one rule: let the model say its last words, then shut the session.
"""

# no `from __future__ import annotations`: function_tool reads the tools' hints at runtime

import asyncio
import logging
from typing import Any

from dialer.agent.dial import CallControl
from dialer.agent.state import (
    CALLBACK,
    DO_NOT_CALL,
    TRANSFERRED,
    CallState,
    parse_callback_time,
)
from dialer.livekit.spec import CallSpec, TranscriptLine

log = logging.getLogger("dialer.agent")

DEFAULT_MODEL = ""  # empty: the google plugin's default native-audio model
GOODBYE = "Say a short, polite goodbye now, in one sentence, and nothing else."
# how long to wait for a realtime model to start the reply a tool output asks for
_REPLY_START_TIMEOUT_S = 5.0


def opening_instructions(spec: CallSpec) -> str:
    """What the model is told for its first turn: say the rendered opening and nothing else."""
    return (
        "The person has just answered the phone. Say exactly the following, word for word, "
        f"and then wait for their answer:\n{spec.opening}"
    )


def _finish_after_reply(ctx: Any, state: CallState, reason: str) -> None:
    """Shut the session once the reply to this tool call has been spoken.

    A text LLM answers a tool output within the same speech handle; a realtime model that
    generates tool replies by itself starts a new one, which we wait for (like livekit's
    EndCallTool). Session close then hangs up (the worker deletes the room).
    """
    from livekit.agents import llm

    session = ctx.session
    state.end_reason = state.end_reason or reason
    activity = session.current_agent._get_activity_or_raise()
    realtime = isinstance(activity.llm, llm.RealtimeModel)

    async def wait_for_reply_then_close() -> None:
        created: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_created(ev: Any) -> None:
            if not created.done():
                created.set_result(ev.speech_handle)

        session.on("speech_created", on_created)
        try:
            handle = await asyncio.wait_for(created, timeout=_REPLY_START_TIMEOUT_S)
            await handle
        except TimeoutError:
            log.warning("no reply after an ending tool, hanging up")
        finally:
            session.off("speech_created", on_created)
            session.shutdown()

    def on_done(_: Any) -> None:
        if realtime:
            # kept on the state so the worker can cancel it if the call ends another way
            state.tasks.append(asyncio.create_task(wait_for_reply_then_close()))
        else:
            session.shutdown()

    ctx.speech_handle.add_done_callback(on_done)


def build_agent(spec: CallSpec, state: CallState, control: CallControl | None = None) -> Any:
    """The campaign's agent for this call; its tools write into `state`."""
    from livekit import api
    from livekit.agents import Agent, RunContext, function_tool

    dispositions = list(spec.dispositions)

    class CampaignAgent(Agent):
        def __init__(self) -> None:
            super().__init__(instructions=spec.instructions)

        @function_tool()
        async def record_disposition(
            self, context: RunContext, disposition: str, notes: str = ""
        ) -> str:
            """Record how the call went, once the outcome is clear. Keep talking afterwards.

            Args:
                disposition: One of the campaign's dispositions.
                notes: A short note for the team (optional).
            """
            if dispositions and disposition not in dispositions:
                return (
                    f"error: {disposition!r} is not a disposition of this campaign; "
                    f"use one of: {', '.join(dispositions)}"
                )
            state.disposition = disposition
            state.add_note(notes)
            return f"recorded {disposition}"

        @function_tool()
        async def schedule_callback(self, context: RunContext, when: str, notes: str = "") -> str:
            """Schedule a call back at a time the person asked for.

            Args:
                when: The local time for the person, as "YYYY-MM-DD HH:MM" (24h).
                notes: What to follow up on (optional).
            """
            try:
                at = parse_callback_time(when, spec.lead_timezone, state.clock.now())
            except ValueError as exc:
                return f"error: {exc}"
            state.callback_at = at.isoformat()
            if not dispositions or CALLBACK in dispositions:
                state.disposition = CALLBACK
            state.add_note(notes)
            return f"callback scheduled for {at:%A %Y-%m-%d at %H:%M} their time"

        @function_tool()
        async def opt_out(self, context: RunContext) -> str:
            """The person asks not to be called again. They will not be called again."""
            state.disposition = DO_NOT_CALL
            _finish_after_reply(context, state, "opt_out")
            return (
                "They are removed from the list. Confirm that they will not be called again, "
                + GOODBYE
            )

        @function_tool()
        async def transfer_to_human(self, context: RunContext) -> str:
            """Transfer the call to a human colleague, when the person asks for one.

            Tell the person you are transferring them before calling this.
            """
            if not spec.transfer_to or control is None:
                return (
                    "error: transfers are not available on this campaign; offer a callback instead"
                )
            target = spec.transfer_to
            if not target.startswith(("tel:", "sip:")):
                target = "tel:" + target
            request = api.TransferSIPParticipantRequest(
                participant_identity=state.sip_identity,
                room_name=state.room,
                transfer_to=target,
                play_dialtone=False,
            )
            try:
                resp = await control.transfer_sip_participant(request)
            except Exception as exc:  # SipCallError (busy colleague) or any API failure
                log.warning("transfer failed", extra={"attempt_id": spec.attempt_id})
                state.add_note(f"transfer failed: {exc}")
                return "error: the transfer did not go through; apologise and offer a callback"
            if resp.status != api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL:
                name = api.SIPTransferStatus.Name(resp.status)
                state.add_note(f"transfer not completed: {name}")
                return "error: the transfer did not go through; apologise and offer a callback"
            state.transferred = True
            if not dispositions or TRANSFERRED in dispositions:
                state.disposition = state.disposition or TRANSFERRED
            state.end_reason = "transferred"
            # the phone leg now belongs to the colleague; our part of the call is over
            context.session.shutdown()
            return "transferred"

        @function_tool()
        async def detected_voicemail(self, context: RunContext) -> str | None:
            """Call this when you reach a voicemail greeting or answering machine, after it ends."""
            state.status = "voicemail"
            if spec.voicemail:
                _finish_after_reply(context, state, "voicemail")
                return (
                    "Leave this voicemail message, word for word, then stop talking:\n"
                    + spec.voicemail
                )
            state.end_reason = "voicemail"
            context.session.shutdown(drain=False)
            return None

        @function_tool()
        async def end_call(self, context: RunContext) -> str:
            """End the call when the conversation is over or the person wants to go."""
            _finish_after_reply(context, state, "end_call")
            return GOODBYE

    return CampaignAgent()


def build_session(spec: CallSpec, llm: Any = None, *, vad: Any = None) -> Any:
    """The `AgentSession` for a call: Gemini realtime with the campaign's voice, or `llm`."""
    from livekit.agents import AgentSession

    if llm is None:
        from livekit.plugins import google

        kwargs: dict[str, Any] = {}
        if spec.model:
            kwargs["model"] = spec.model
        llm = google.realtime.RealtimeModel(
            voice=spec.voice,
            temperature=spec.temperature,
            instructions=spec.instructions,
            **kwargs,
        )
    # the realtime model detects turns server-side; no local VAD unless one is passed
    return AgentSession(llm=llm, vad=vad)


def room_options(spec: CallSpec, sip_identity: str) -> Any:
    """Room I/O bound to the phone leg; closing the session deletes the room (hangs up)."""
    from livekit.agents.voice import room_io

    nc = None
    if spec.noise_cancellation:
        from livekit.plugins import noise_cancellation

        nc = noise_cancellation.BVCTelephony()
    return room_io.RoomOptions(
        audio_input=room_io.AudioInputOptions(noise_cancellation=nc),
        participant_identity=sip_identity,
        close_on_disconnect=True,
        delete_room_on_close=True,
    )


_ROLES = {"assistant": "agent", "user": "lead"}


def watch_session(session: Any, state: CallState) -> asyncio.Future:
    """Copy transcript, first agent audio and usage into `state`; the future resolves on close."""
    closed: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_item(ev: Any) -> None:
        role = _ROLES.get(getattr(ev.item, "role", ""))
        text = getattr(ev.item, "text_content", None)
        if role and text:
            state.transcript.append(TranscriptLine(role=role, text=text, at=ev.created_at))

    def on_state(ev: Any) -> None:
        if ev.new_state == "speaking" and state.first_audio_at is None:
            state.first_audio_at = ev.created_at

    def on_close(ev: Any) -> None:
        state.end_reason = state.end_reason or ev.reason.value
        if ev.error is not None and state.error is None:
            state.error = f"session error: {ev.error}"
        if not closed.done():
            closed.set_result(ev.reason.value)

    session.on("conversation_item_added", on_item)
    session.on("agent_state_changed", on_state)
    session.on("close", on_close)
    return closed


def session_usage(session: Any) -> dict[str, Any]:
    """The session's model usage as plain JSON (one entry per model)."""
    import dataclasses

    out = []
    for u in session.usage.model_usage:
        if dataclasses.is_dataclass(u):
            out.append(dataclasses.asdict(u))
        elif hasattr(u, "model_dump"):
            out.append(u.model_dump(mode="json"))
    return {"models": out}


async def enforce_max_duration(session: Any, state: CallState, seconds: float) -> None:
    """At the campaign's limit, ask for a goodbye, then close the session whatever happens."""
    await state.clock.sleep(seconds)
    state.end_reason = state.end_reason or "max_call_duration"
    log.info("max call duration reached", extra={"attempt_id": state.spec.attempt_id})
    try:
        handle = session.generate_reply(
            instructions="The call has reached its time limit. " + GOODBYE,
            allow_interruptions=False,
        )
        await asyncio.wait_for(handle.wait_for_playout(), timeout=15)
    except Exception:  # a goodbye is a courtesy; hanging up is the rule
        log.warning("no goodbye at max duration", extra={"attempt_id": state.spec.attempt_id})
    session.shutdown()
