"""Posting the report: signed, retried until acknowledged, accepted exactly once."""

from __future__ import annotations

import asyncio

from dialer.agent.report import post_report
from dialer.livekit.spec import CallReport, TranscriptLine
from tests.agent_helpers import KEY, SECRET, ReportSink


def report() -> CallReport:
    return CallReport(
        attempt_id="a-1",
        status="completed",
        disposition="interested",
        transcript=[TranscriptLine(role="agent", text="Hi, this is Ana.", at=1.0)],
    )


async def deliver(statuses: list[int], secret: str = SECRET, deadline_s: float = 10):
    async with ReportSink(statuses) as sink:
        ok = await post_report(
            report(), sink.url, KEY, secret, deadline_s=deadline_s, first_backoff_s=0.01
        )
    return ok, sink


def test_retried_after_503_then_accepted_once():
    ok, sink = asyncio.run(deliver([503, 200]))
    assert ok
    assert [r["status"] for r in sink.received] == [503, 200]
    [accepted] = sink.accepted
    assert accepted["attempt_id"] == "a-1" and accepted["disposition"] == "interested"
    assert accepted["transcript"][0]["text"] == "Hi, this is Ana."


def test_409_already_reported_counts_as_acknowledged():
    ok, sink = asyncio.run(deliver([409]))
    assert ok and len(sink.received) == 1


def test_408_and_429_are_retried():
    ok, sink = asyncio.run(deliver([408, 429, 204]))
    assert ok and [r["status"] for r in sink.received] == [408, 429, 204]


def test_other_4xx_gives_up_without_retrying():
    ok, sink = asyncio.run(deliver([400, 200]))
    assert not ok and len(sink.received) == 1


def test_bad_signature_is_rejected_and_not_retried():
    ok, sink = asyncio.run(deliver([], secret="not-the-secret-not-the-secret-xx"))
    assert not ok
    assert [r["status"] for r in sink.received] == [401]
    assert "bad signature" in sink.received[0]["error"]


def test_gives_up_at_the_deadline():
    ok, sink = asyncio.run(deliver([503] * 100, deadline_s=0.05))
    assert not ok and 1 <= len(sink.received) < 10 and sink.accepted == []
