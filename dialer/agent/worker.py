"""The worker: one LiveKit job places one call and posts one report; `run_worker` serves jobs.

`run_call` reads like the call it places: parse the spec, start the session (before dialing, so
the lead's first words are not lost), dial and wait for an answer, greet with the opening, talk
until someone hangs up or the time limit, then post the report. The report goes out in a
`finally`, so dial failures and crashes inside the job are reported too, exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from dialer.agent.config import AgentConfigError, load_config
from dialer.agent.conversation import (
    build_agent,
    build_session,
    enforce_max_duration,
    opening_instructions,
    room_options,
    session_usage,
    watch_session,
)
from dialer.agent.dial import CallControl, LiveKitCallControl, dial_lead
from dialer.agent.report import post_report
from dialer.agent.state import CallState, build_report
from dialer.livekit.spec import CallReport, CallSpec, SpecError, is_probe

log = logging.getLogger("dialer.agent")

DEFAULT_AGENT_NAME = "dialer"


def sip_identity(spec: CallSpec) -> str:
    return f"lead-{spec.attempt_id}"


def recording_path(spec: CallSpec) -> str:
    return f"{spec.campaign}/{spec.attempt_id}.ogg"


async def run_call(
    ctx: Any,
    control: CallControl,
    *,
    api_key: str,
    api_secret: str,
    llm: Any = None,
    use_room: bool = True,
    on_session: Callable[[Any], Any] | None = None,
    report_deadline_s: float = 600.0,
) -> CallReport | None:
    """Place the call described by `ctx.job.metadata` and post its report. Returns the report.

    `use_room=False` runs the conversation text-only, without room I/O (tests, no server).
    `on_session` is called with the `AgentSession` once the lead has answered.
    """
    if is_probe(ctx.job.metadata):  # `dialer doctor` asking whether a worker is there
        log.info("doctor probe job taken; nothing to dial")
        ctx.shutdown(reason="dialer doctor probe")
        return None
    try:
        spec = CallSpec.from_json(ctx.job.metadata)
    except SpecError as exc:
        await _report_invalid_spec(ctx.job.metadata, str(exc), api_key, api_secret)
        ctx.shutdown(reason="invalid call spec")
        return None

    room = ctx.room.name or ctx.job.room.name
    state = CallState(spec=spec, room=room, sip_identity=sip_identity(spec))
    session: Any = None
    start: asyncio.Task | None = None
    timer: asyncio.Task | None = None
    try:
        if use_room:
            await ctx.connect()
        session = build_session(spec, llm)
        agent = build_agent(spec, state, control)
        closed = watch_session(session, state)
        # Start the session before the phone leg joins: room I/O then subscribes to the lead's
        # audio the moment they pick up, and the greeting is not delayed by model set-up.
        kwargs: dict[str, Any] = {}
        if use_room:
            kwargs = {"room": ctx.room, "room_options": room_options(spec, state.sip_identity)}
        start = asyncio.create_task(session.start(agent, **kwargs))

        # not answered: busy / no_answer / failed are in `state`, reported below
        if await dial_lead(spec, state, control):
            await start
            log.info("answered", extra={"attempt_id": spec.attempt_id})
            if spec.recording:
                await _start_recording(spec, state, control)
            if on_session is not None:
                on_session(session)
            timer = asyncio.create_task(
                enforce_max_duration(session, state, spec.max_call_duration)
            )
            # the realtime model cannot say() a fixed text: ask for the opening, word for word
            session.generate_reply(instructions=opening_instructions(spec))
            await closed
    except Exception as exc:
        log.exception("call failed inside the job", extra={"attempt_id": spec.attempt_id})
        if state.answered_at is None or state.first_audio_at is None:
            # never answered, or answered and the agent never spoke: not a conversation
            state.status = state.status or "failed"
        state.error = f"{type(exc).__name__}: {exc}"
    finally:
        for task in [start, timer, *state.tasks]:
            if task is not None and not task.done():
                task.cancel()
        state.ended_at = state.now()
        if session is not None:
            state.usage.update(session_usage(session))
            await _quietly(session.aclose(), "closing the session")
        if state.answered_at is not None:
            # hang up: deleting the room sends BYE to the phone leg (idempotent with room I/O's
            # delete_room_on_close; a leftover room would keep the lead on the line)
            await _quietly(control.delete_room(state.room), "deleting the room")
        report = build_report(state)
        await post_report(
            report, spec.report_url, api_key, api_secret, deadline_s=report_deadline_s
        )
        ctx.shutdown(reason=report.status)
    return report


async def _start_recording(spec: CallSpec, state: CallState, control: CallControl) -> None:
    try:
        egress_id = await control.start_audio_recording(state.room, recording_path(spec))
    except Exception as exc:  # a missing recording must not cost the call
        state.add_note(f"recording did not start: {exc}")
        return
    state.usage["recording"] = {"egress_id": egress_id, "filepath": recording_path(spec)}


async def _quietly(aw: Any, what: str) -> None:
    try:
        await aw
    except Exception:
        log.warning("failed %s", what, exc_info=True)


async def _report_invalid_spec(metadata: str, error: str, api_key: str, api_secret: str) -> None:
    """One log line; and a `failed` report when the metadata still names a report URL."""
    log.error("invalid call spec: %s", error)
    try:
        raw = json.loads(metadata)
        url, attempt_id = raw["report_url"], raw["attempt_id"]
        if not (isinstance(url, str) and isinstance(attempt_id, str)):
            return
    except (ValueError, TypeError, KeyError):
        return
    report = CallReport(attempt_id=attempt_id, status="failed", error=f"invalid call spec: {error}")
    await post_report(report, url, api_key, api_secret, deadline_s=60)


async def job_entrypoint(ctx: Any) -> None:
    """The LiveKit job: one call, with the real LiveKit API and Gemini."""
    from livekit import api

    config = load_config()
    async with api.LiveKitAPI(config.livekit_url, config.api_key, config.api_secret) as lkapi:
        await run_call(
            ctx, LiveKitCallControl(lkapi), api_key=config.api_key, api_secret=config.api_secret
        )


def build_server(
    agent_name: str = DEFAULT_AGENT_NAME,
    load_threshold: float | None = None,
    max_jobs: int | None = None,
    num_idle_processes: int | None = None,
    port: int | None = None,
) -> Any:
    """The `AgentServer` that takes explicit dispatches for `agent_name`.

    `max_jobs` caps concurrent calls per worker (load = active jobs / max_jobs, threshold 1.0);
    otherwise livekit's CPU-based load with `load_threshold` (default 0.7 in production).
    """
    from livekit.agents import AgentServer

    kwargs: dict[str, Any] = {}
    if max_jobs is not None:
        if max_jobs < 1:
            raise AgentConfigError(f"--max-jobs must be a positive integer, got {max_jobs}")

        def load_fnc(server: Any) -> float:
            return len(server.active_jobs) / max_jobs

        kwargs["load_fnc"] = load_fnc
        # livekit accepts a job while load < threshold: with 1.0, exactly max_jobs calls run
        kwargs["load_threshold"] = 1.0 if load_threshold is None else load_threshold
    elif load_threshold is not None:
        kwargs["load_threshold"] = load_threshold
    if num_idle_processes is not None:
        kwargs["num_idle_processes"] = num_idle_processes
    if port is not None:
        kwargs["port"] = port
    server = AgentServer(**kwargs)
    server.rtc_session(job_entrypoint, agent_name=agent_name)
    return server


def run_worker(
    argv: list[str],
    agent_name: str = DEFAULT_AGENT_NAME,
    load_threshold: float | None = None,
    max_jobs: int | None = None,
    num_idle_processes: int | None = None,
    port: int | None = None,
) -> int:
    """Run the worker: `argv` is livekit's CLI (`start`, `dev`, plus its options). Exit code.

    Credentials come from the environment or `.env`; a missing one is one line on stderr and
    exit code 1, before livekit starts.
    """
    try:
        load_config()
    except AgentConfigError as exc:
        print(f"Error: {exc.format()}", file=sys.stderr)
        return 1
    from livekit.agents import cli

    server = build_server(agent_name, load_threshold, max_jobs, num_idle_processes, port)
    # livekit's CLI parses sys.argv; give it ours, named like the program the user ran
    saved = sys.argv
    sys.argv = [f"{os.path.basename(saved[0]) if saved else 'dialer'} agent", *argv]
    try:
        cli.run_app(server)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return 0
