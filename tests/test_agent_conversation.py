"""The agent's tools in a text-only AgentSession with a scripted LLM: what each tool records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dialer.agent.conversation import build_agent, watch_session
from dialer.agent.state import CallState, build_report, parse_callback_time
from tests.agent_helpers import FakeControl, make_spec, scripted_llm


def fixed_clock(iso: str):
    """A clock whose now() is `iso` (tests only read it)."""
    when = datetime.fromisoformat(iso)

    class Clock:
        def now(self) -> datetime:
            return when

        def monotonic(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(0)

    return Clock()


async def converse(spec, turns, inputs, *, control=None, clock=None, ends=False):
    """Run `inputs` through a session with the campaign's agent: (state, results, close reason).

    `ends`: the script ends the call, so wait for the session to close (else just look).
    """
    from livekit.agents import AgentSession

    state = CallState(spec=spec, room="call-1", sip_identity="lead-a-1")
    if clock is not None:
        state.clock = clock
    results = []
    async with AgentSession(llm=scripted_llm(turns), vad=None) as session:
        closed = watch_session(session, state)
        await session.start(build_agent(spec, state, control))
        for text in inputs:
            results.append(await session.run(user_input=text))
        try:
            reason = await asyncio.wait_for(asyncio.shield(closed), 5 if ends else 0.2)
        except TimeoutError:
            reason = None
    return state, results, reason


def test_record_disposition_valid():
    async def main():
        turns = [[("record_disposition", {"disposition": "interested", "notes": "wants a demo"})]]
        state, [r], closed = await converse(make_spec(), [*turns, "Great!"], ["yes please"])
        r.expect.next_event().is_function_call(name="record_disposition")
        r.expect.next_event().is_function_call_output(output="recorded interested")
        r.expect.next_event().is_message(role="assistant")
        r.expect.no_more_events()
        assert (state.disposition, state.notes) == ("interested", "wants a demo")
        assert closed is None  # recording a disposition does not end the call

    asyncio.run(main())


def test_record_disposition_not_in_campaign_is_refused():
    async def main():
        turns = [[("record_disposition", {"disposition": "maybe_later"})], "Sorry."]
        state, [r], _ = await converse(make_spec(), turns, ["hmm"])
        r.expect.next_event().is_function_call(name="record_disposition")
        out = r.expect.next_event().is_function_call_output().event().item
        assert out.output.startswith("error: 'maybe_later' is not a disposition")
        assert "not_interested" in out.output
        assert state.disposition is None

    asyncio.run(main())


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # EST before the March switch, EDT after it
        ("2026-03-06 10:30", "2026-03-06T10:30:00-05:00"),
        ("2026-03-09 10:30", "2026-03-09T10:30:00-04:00"),
        ("2026-03-09T16:00", "2026-03-09T16:00:00-04:00"),
        # an explicit offset is converted to the lead's wall time
        ("2026-03-09T14:30:00+00:00", "2026-03-09T10:30:00-04:00"),
        # 02:30 on 8 March does not exist in New York: the wall clock reads 03:30 EDT
        ("2026-03-08 02:30", "2026-03-08T03:30:00-04:00"),
    ],
)
def test_parse_callback_time_lead_local_and_dst(when, expected):
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_callback_time(when, "America/New_York", now).isoformat() == expected


def test_parse_callback_time_rejects_past_and_garbage():
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="in the past"):
        parse_callback_time("2026-03-09 10:00", "America/New_York", now)
    with pytest.raises(ValueError, match="expected a time like"):
        parse_callback_time("tomorrow at ten", "America/New_York", now)


def test_schedule_callback_stores_lead_local_iso_and_disposition():
    async def main():
        turns = [[("schedule_callback", {"when": "2026-11-02 09:15", "notes": "after school"})]]
        clock = fixed_clock("2026-10-30T12:00:00+00:00")
        state, [r], _ = await converse(
            make_spec(), [*turns, "Talk then."], ["call me Monday 9:15"], clock=clock
        )
        r.expect.next_event().is_function_call(name="schedule_callback")
        out = r.expect.next_event().is_function_call_output().event().item.output
        assert out == "callback scheduled for Monday 2026-11-02 at 09:15 their time"
        # 1 November ends DST in New York: Monday is EST
        assert state.callback_at == "2026-11-02T09:15:00-05:00"
        assert state.disposition == "callback"
        report = build_report(state)
        assert report.callback_at == "2026-11-02T09:15:00-05:00"

    asyncio.run(main())


def test_schedule_callback_bad_time_goes_back_to_the_model():
    async def main():
        turns = [[("schedule_callback", {"when": "someday"})], "When exactly?"]
        state, [r], _ = await converse(make_spec(), turns, ["later"])
        r.expect.next_event().is_function_call(name="schedule_callback")
        out = r.expect.next_event().is_function_call_output().event().item.output
        assert out.startswith("error: expected a time like")
        assert state.callback_at is None and state.disposition is None

    asyncio.run(main())


def test_opt_out_sets_do_not_call_says_goodbye_and_ends():
    async def main():
        turns = [[("opt_out", {})], "Understood, you won't hear from us again. Goodbye."]
        state, [r], closed = await converse(make_spec(), turns, ["stop calling me"], ends=True)
        r.expect.next_event().is_function_call(name="opt_out")
        r.expect.next_event().is_function_call_output()
        r.expect.next_event().is_message(role="assistant")
        assert state.disposition == "do_not_call"
        assert closed is not None and state.end_reason == "opt_out"
        report = build_report(state)
        assert report.disposition == "do_not_call"

    asyncio.run(main())


def test_end_call_says_goodbye_then_ends_the_session():
    async def main():
        turns = [[("end_call", {})], "Thanks, bye!"]
        state, [r], closed = await converse(make_spec(), turns, ["that's all"], ends=True)
        r.expect.next_event().is_function_call(name="end_call")
        r.expect.next_event().is_function_call_output()
        r.expect.next_event().is_message(role="assistant")
        assert closed is not None
        assert state.end_reason == "end_call"
        assert [t.text for t in state.transcript][-1] == "Thanks, bye!"

    asyncio.run(main())


def test_no_end_means_the_session_stays_open():
    async def main():
        _, _, closed = await converse(make_spec(), ["Sure."], ["tell me more"])
        assert closed is None

    asyncio.run(main())


def test_transfer_uses_the_campaign_number_and_ends_our_part():
    async def main():
        control = FakeControl()
        turns = [[("transfer_to_human", {})]]
        state, [r], closed = await converse(
            make_spec(), turns, ["put me through to a person"], control=control, ends=True
        )
        r.expect.contains_function_call(name="transfer_to_human")
        [req] = control.transfers
        assert (req.transfer_to, req.room_name, req.participant_identity) == (
            "tel:+15555550142",
            "call-1",
            "lead-a-1",
        )
        assert state.transferred and closed is not None

    asyncio.run(main())


def test_transfer_failure_status_is_told_to_the_model():
    from livekit import api

    async def main():
        control = FakeControl(transfer_status=api.SIPTransferStatus.STS_TRANSFER_FAILED)
        turns = [[("transfer_to_human", {})], "Sorry, nobody is free."]
        state, [r], closed = await converse(make_spec(), turns, ["a human"], control=control)
        r.expect.next_event().is_function_call(name="transfer_to_human")
        out = r.expect.next_event().is_function_call_output().event().item.output
        assert out.startswith("error: the transfer did not go through")
        assert not state.transferred and closed is None
        assert "STS_TRANSFER_FAILED" in state.notes

    asyncio.run(main())


def test_transfer_not_configured_is_told_to_the_model():
    async def main():
        control = FakeControl()
        turns = [[("transfer_to_human", {})], "I can't transfer you."]
        spec = make_spec(transfer_to="")
        _, [r], _ = await converse(spec, turns, ["a human"], control=control)
        r.expect.next_event().is_function_call(name="transfer_to_human")
        out = r.expect.next_event().is_function_call_output().event().item.output
        assert "not available" in out
        assert control.transfers == []

    asyncio.run(main())


def test_voicemail_with_message_leaves_it_and_reports_voicemail():
    async def main():
        spec = make_spec(voicemail="Hi, Ana from Acme, please call 555-0199.")
        turns = [[("detected_voicemail", {})], "Hi, Ana from Acme, please call 555-0199."]
        state, [r], closed = await converse(
            spec, turns, ["Leave a message after the tone."], ends=True
        )
        r.expect.next_event().is_function_call(name="detected_voicemail")
        out = r.expect.next_event().is_function_call_output().event().item.output
        assert out.endswith(spec.voicemail)
        r.expect.next_event().is_message(role="assistant")
        assert closed is not None and build_report(state).status == "voicemail"

    asyncio.run(main())


def test_voicemail_without_message_hangs_up():
    async def main():
        turns = [[("detected_voicemail", {})]]
        state, _, closed = await converse(
            make_spec(), turns, ["Please leave a message."], ends=True
        )
        assert closed is not None and build_report(state).status == "voicemail"

    asyncio.run(main())


def test_report_from_call_state():
    async def main():
        turns = [[("record_disposition", {"disposition": "not_interested"})], "No problem."]
        state, _, _ = await converse(make_spec(), turns, ["not interested"])
        state.answered_at = 1000.0
        state.first_audio_at = 1000.75
        report = build_report(state)
        assert report.status == "completed"
        assert report.disposition == "not_interested"
        assert report.first_audio_latency_s == 0.75
        assert [(t.role, t.text) for t in report.transcript] == [
            ("lead", "not interested"),
            ("agent", "No problem."),
        ]
        assert report.room == "call-1" and report.attempt_id == "a-1"

    asyncio.run(main())


def test_session_uses_gemini_realtime_with_the_campaign_voice(monkeypatch):
    from livekit.plugins import google

    from dialer.agent.conversation import build_session, room_options

    monkeypatch.setenv("GOOGLE_API_KEY", "dummy")  # constructing needs a key, not the network

    async def models():  # AgentSession wants a running loop
        default = build_session(make_spec()).llm
        other = build_session(make_spec(voice="Kore", model="gemini-3.1-flash-live-preview")).llm
        return default, other

    model, other = asyncio.run(models())
    assert isinstance(model, google.realtime.RealtimeModel)
    assert (model._opts.voice, model._opts.temperature) == ("Leda", 0.2)
    assert (other._opts.voice, other.model) == ("Kore", "gemini-3.1-flash-live-preview")

    opts = room_options(make_spec(), "lead-a-1")
    assert opts.participant_identity == "lead-a-1"
    assert opts.close_on_disconnect and opts.delete_room_on_close
    assert opts.audio_input.noise_cancellation is not None
    off = room_options(make_spec(noise_cancellation=False), "lead-a-1")
    assert off.audio_input.noise_cancellation is None
