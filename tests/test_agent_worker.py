"""The whole job: spec → dial (fake LiveKit boundary) → text-only session → one signed report."""

from __future__ import annotations

import asyncio
import json

from dialer.agent.worker import build_server, run_call, run_worker
from tests.agent_helpers import KEY, SECRET, FakeControl, ReportSink, make_spec, scripted_llm


async def lead_says(session, *texts):
    """Wait for the agent's opening, then say `texts` one run at a time."""
    for _ in range(200):
        if any(getattr(i, "role", "") == "assistant" for i in session.history.items):
            break
        await asyncio.sleep(0.01)
    for text in texts:
        await session.run(user_input=text)


async def job(metadata: str, control, turns, *, lead=(), sink_statuses=()):
    """Run one job under livekit's fake job context; returns (report, sink, lead task)."""
    from livekit.agents.testing import fake_job_context

    conversation: list[asyncio.Task] = []
    async with ReportSink(list(sink_statuses)) as sink:
        metadata = metadata.replace("REPORT_URL", sink.url)
        with fake_job_context(job_metadata=metadata) as ctx:
            report = await asyncio.wait_for(
                run_call(
                    ctx,
                    control,
                    api_key=KEY,
                    api_secret=SECRET,
                    llm=scripted_llm(turns),
                    use_room=False,
                    on_session=lambda s: conversation.append(
                        asyncio.create_task(lead_says(s, *lead))
                    ),
                    report_deadline_s=5,
                ),
                timeout=30,
            )
        for task in conversation:
            task.cancel()
    return report, sink


def test_answered_call_end_to_end():
    spec = make_spec(report_url="REPORT_URL")
    control = FakeControl()
    turns = [
        "Hi, this is Ana from Acme.",
        [("record_disposition", {"disposition": "not_interested"}), ("end_call", {})],
        "No problem, goodbye!",
    ]
    report, sink = asyncio.run(
        job(spec.to_json(), control, turns, lead=["not for me, thanks"], sink_statuses=[503])
    )
    [accepted] = sink.accepted  # the 503 was retried; exactly one report accepted
    assert accepted == json.loads(report.to_json())
    assert report.status == "completed" and report.disposition == "not_interested"
    assert report.answered_at is not None and report.ended_at >= report.answered_at
    assert report.first_audio_latency_s is not None and report.first_audio_latency_s >= 0
    assert [(t.role, t.text) for t in report.transcript] == [
        ("agent", "Hi, this is Ana from Acme."),
        ("lead", "not for me, thanks"),
        ("agent", "No problem, goodbye!"),
    ]
    [dial] = control.dials
    assert dial.participant_identity == "lead-a-1" and dial.room_name == report.room
    assert control.deleted == [report.room]  # hung up


def test_busy_dial_reports_busy_without_talking():
    spec = make_spec(report_url="REPORT_URL")
    llm_turns: list = []

    def busy(_request):
        from livekit import api

        raise api.SipCallError(
            "unavailable", "busy", status=503, metadata={"sip_status_code": "486"}
        )

    report, sink = asyncio.run(job(spec.to_json(), FakeControl(on_dial=busy), llm_turns))
    [accepted] = sink.accepted
    assert (accepted["status"], accepted["sip_status"]) == ("busy", 486)
    assert accepted["answered_at"] is None and accepted["transcript"] == []


def test_max_call_duration_says_goodbye_and_ends():
    spec = make_spec(report_url="REPORT_URL", max_call_duration=0.3)
    turns = ["Hi, this is Ana from Acme.", "Sorry, I have to go. Goodbye!"]
    report, sink = asyncio.run(job(spec.to_json(), FakeControl(), turns))
    assert len(sink.accepted) == 1
    assert report.status == "completed"
    assert report.transcript[-1].text == "Sorry, I have to go. Goodbye!"


def test_crash_inside_the_job_is_still_reported_once():
    spec = make_spec(report_url="REPORT_URL")

    def explode(_request):
        raise RuntimeError("boom")

    async def main():
        from livekit.agents.testing import fake_job_context

        async with ReportSink() as sink:
            s = make_spec(report_url=sink.url)
            with fake_job_context(job_metadata=s.to_json()) as ctx:

                def crash(_session):
                    raise RuntimeError("boom after answer")

                report = await run_call(
                    ctx,
                    FakeControl(),
                    api_key=KEY,
                    api_secret=SECRET,
                    llm=scripted_llm([]),
                    use_room=False,
                    on_session=crash,
                    report_deadline_s=5,
                )
        return report, sink

    report, sink = asyncio.run(main())
    assert len(sink.accepted) == 1
    assert report.status == "failed" and "boom after answer" in report.error
    # dial-time crashes (any exception from the boundary) are reported as failed
    report, sink = asyncio.run(job(spec.to_json(), FakeControl(on_dial=explode), []))
    assert (report.status, len(sink.accepted)) == ("failed", 1)
    assert "boom" in report.error


def test_invalid_spec_reports_failed_when_it_can():
    bad = {"attempt_id": "a-9", "report_url": "REPORT_URL", "campaign": "demo"}
    report, sink = asyncio.run(job(json.dumps(bad), FakeControl(), []))
    assert report is None
    [accepted] = sink.accepted
    assert (accepted["attempt_id"], accepted["status"]) == ("a-9", "failed")
    assert "invalid call spec" in accepted["error"]


def test_unreadable_spec_posts_nothing():
    control = FakeControl()
    report, sink = asyncio.run(job("not json", control, []))
    assert report is None and sink.received == [] and control.dials == []


def test_doctor_probe_job_dials_nothing_and_reports_nothing(caplog):
    from dialer.livekit.spec import PROBE_METADATA

    control = FakeControl()
    with caplog.at_level("INFO"):
        report, sink = asyncio.run(job(PROBE_METADATA, control, []))
    assert report is None and sink.received == [] and control.dials == []
    messages = [r.getMessage() for r in caplog.records]
    assert "doctor probe job taken; nothing to dial" in messages
    assert not [m for m in messages if "invalid call spec" in m]  # a probe is not an error


def test_missing_credentials_is_one_line_and_exit_1(monkeypatch, tmp_path, capsys):
    for key in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "GOOGLE_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LIVEKIT_URL=ws://127.0.0.1:7880\n")
    assert run_worker(["start"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "missing LIVEKIT_API_KEY, LIVEKIT_API_SECRET, GOOGLE_API_KEY" in err


def test_server_slot_limit():
    server = build_server("dialer-test", max_jobs=3)
    assert server._agent_name == "dialer-test"
    assert server._load_threshold == 1.0
    fake = type("S", (), {"active_jobs": [object(), object()]})()
    assert server.load_fnc(fake) == 2 / 3


def test_recording_starts_after_answer_when_asked():
    spec = make_spec(report_url="REPORT_URL", recording=True, max_call_duration=0.2)
    control = FakeControl()
    report, _ = asyncio.run(job(spec.to_json(), control, ["Hi.", "Bye."]))
    assert control.recordings == [(report.room, "demo/a-1.ogg")]
    assert report.usage["recording"] == {"egress_id": "EG_1", "filepath": "demo/a-1.ogg"}
    none = FakeControl()
    asyncio.run(job(make_spec(report_url="REPORT_URL", max_call_duration=0.2).to_json(), none, []))
    assert none.recordings == []


def test_dialer_agent_command_without_credentials_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "GOOGLE_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "dialer", "agent", "start"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "LIVEKIT_URL" in lines[0] and "Traceback" not in proc.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "dialer", "agent", "later"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "start or dev" in bad.stderr
