"""The offline simulator: outcomes, ring and talk times drawn per lead from the campaign's rates."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import struct

from dialer.backends.base import CallRequest, CallResult

# Relative weights used when a campaign's `simulate.dispositions` does not say.
DEFAULT_DISPOSITION_WEIGHTS = {
    "meeting_booked": 1.0,
    "interested": 2.0,
    "callback": 1.5,
    "not_interested": 5.0,
    "wrong_person": 1.0,
    "do_not_call": 0.3,
}
SIP_STATUS = {"busy": 486, "no_answer": 480, "failed": 503, "voicemail": 200, "completed": 200}
_REPLIES = {
    "meeting_booked": "Sure, let's put something on the calendar.",
    "interested": "Sounds interesting, send me more information.",
    "callback": "I'm busy right now, can you call me back later?",
    "not_interested": "No thanks, we're all set.",
    "wrong_person": "I'm not the right person for that.",
    "do_not_call": "Please take me off your list and don't call again.",
}


_OUTCOMES = ("completed", "busy", "no_answer", "voicemail", "failed")
_TO_UNIT = 2.0**-64
_FIVE_WORDS = struct.Struct("<5Q")


class SimulatedBackend:
    """A handler-driven stand-in for real calls; deterministic for a seed and a lead's attempt."""

    name = "simulate"

    def __init__(self, clock, seed: int = 0, speed: float = 1.0) -> None:
        self.clock = clock
        self.seed = seed
        self.speed = speed if speed > 0 else 1.0
        self._cache: dict = {}
        self._last: tuple | None = None  # (simulate, dispositions, profile) of the last request

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self.clock.sleep(seconds / self.speed)

    def _profile(self, request: CallRequest) -> tuple:
        """Cumulative outcome and disposition weights and the ring and talk ranges in seconds,
        worked out once per campaign revision."""
        sim = request.simulate
        last = self._last
        # the runner gives all requests of a revision the same two objects
        if last is not None and last[0] is sim and last[1] is request.dispositions:
            return last[2]
        key = (id(sim), tuple(request.dispositions))
        cached = self._cache.get(key)
        # the entry holds `sim` itself, so its id can not be reused by another while cached
        if cached is None or cached[0] is not sim:
            rates = [sim.answer, sim.busy, sim.no_answer, sim.voicemail, sim.failed]
            names = list(request.dispositions)
            weights = [
                sim.dispositions.get(n, DEFAULT_DISPOSITION_WEIGHTS.get(n, 1.0))
                if sim.dispositions
                else DEFAULT_DISPOSITION_WEIGHTS.get(n, 1.0)
                for n in names
            ]
            ring = sim.ring_time.min.total_seconds(), sim.ring_time.max.total_seconds()
            talk = sim.talk_time.min.total_seconds(), sim.talk_time.max.total_seconds()
            cached = (
                sim,
                list(itertools.accumulate(rates)),
                names,
                list(itertools.accumulate(weights)),
                ring[0],
                ring[1] - ring[0],
                talk[0],
                talk[1] - talk[0],
            )
            self._cache = {key: cached, **self._cache} if len(self._cache) < 64 else {key: cached}
        self._last = (sim, request.dispositions, cached)
        return cached

    def draw(self, request: CallRequest) -> tuple[str, float, float, str | None, float | None]:
        """(status, ring seconds, talk seconds, disposition, callback delay) for this attempt."""
        # Five uniforms in [0, 1) from one hash of (seed, lead, attempt): deterministic across
        # runs and machines, and cheaper than seeding a random.Random for every call.
        digest = hashlib.blake2b(
            f"{self.seed}\0{request.lead_key}\0{request.attempt_no}".encode(), digest_size=40
        ).digest()
        u0, u1, u2, u3, u4 = _FIVE_WORDS.unpack(digest)
        _, outcome_edges, names, disposition_edges, ring_min, ring_span, talk_min, talk_span = (
            self._profile(request)
        )
        pick = u0 * _TO_UNIT * outcome_edges[-1]
        status = _OUTCOMES[min(bisect.bisect_right(outcome_edges, pick), 4)]
        ring = ring_min + ring_span * (u1 * _TO_UNIT)
        talk = talk_min + talk_span * (u2 * _TO_UNIT)
        if status == "no_answer":
            ring, talk = request.ring_timeout, 0.0
        elif status == "busy":
            ring, talk = min(ring, 2.0), 0.0
        elif status == "failed":
            ring, talk = min(ring, 1.0), 0.0
        elif status == "voicemail":
            talk = min(talk, 30.0)
        ring = min(ring, request.ring_timeout)
        talk = min(talk, request.max_call_duration)
        disposition, callback = None, None
        if status == "completed" and names and disposition_edges[-1] > 0:
            pick = u3 * _TO_UNIT * disposition_edges[-1]
            disposition = names[min(bisect.bisect_right(disposition_edges, pick), len(names) - 1)]
            if disposition == "callback":
                callback = 3600 + (2 * 86400 - 3600) * (u4 * _TO_UNIT)
        return status, ring, talk, disposition, callback

    async def place_call(self, request: CallRequest) -> CallResult:
        status, ring, talk, disposition, callback = self.draw(request)
        started = self.clock.timestamp()
        # One sleep for ring + talk: the answer time is known in advance, and a timer less per
        # call is what lets a week's forecast of 100,000 leads finish in seconds.
        ended = started
        answers = status in ("completed", "voicemail")
        if request.on_state is not None:  # someone follows this call: say when it is answered
            request.on_state("ringing")
            await self._wait(ring)
            if answers:
                request.on_state("voicemail" if status == "voicemail" else "answered")
                await self._wait(talk)
            ended = self.clock.timestamp()
        elif ring + talk > 0:
            await self.clock.sleep((ring + talk) / self.speed)
            ended = self.clock.timestamp()
        answered_at = min(started + ring / self.speed, ended)
        answered = answered_at if answers else None
        transcript: list[tuple[float | None, str, str]] = []
        if status == "completed":
            transcript = [
                (answered, "agent", request.text("opening") or ""),
                (answered, "user", _REPLIES.get(disposition or "", "Okay.")),
            ]
        elif status == "voicemail":
            message = request.text("voicemail")
            if message:
                transcript = [(answered, "agent", message)]
        if status == "completed":
            transcript.append((ended, "agent", "Thanks for your time. Goodbye!"))
        return CallResult(
            status=status,
            disposition=disposition,
            answered_at=answered,
            ended_at=max(ended, started),
            sip_status=SIP_STATUS.get(status),
            callback_at=ended + callback if callback else None,
            transcript=transcript,
        )

    async def aclose(self) -> None:
        return None
