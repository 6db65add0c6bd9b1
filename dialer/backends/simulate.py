"""The offline simulator: outcomes, ring and talk times drawn per lead from the campaign's rates."""

from __future__ import annotations

import bisect
import hashlib
import itertools

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


class SimulatedBackend:
    """A handler-driven stand-in for real calls; deterministic for a seed and a lead's attempt."""

    name = "simulate"

    def __init__(self, clock, seed: int = 0, speed: float = 1.0) -> None:
        self.clock = clock
        self.seed = seed
        self.speed = speed if speed > 0 else 1.0
        self._cache: dict = {}

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self.clock.sleep(seconds / self.speed)

    def _weights(self, request: CallRequest) -> tuple[list[float], list[str], list[float]]:
        """Cumulative outcome and disposition weights, computed once per campaign revision."""
        sim = request.simulate
        key = (id(sim), tuple(request.dispositions))
        cached = self._cache.get(key)
        if cached is None:
            rates = [sim.answer, sim.busy, sim.no_answer, sim.voicemail, sim.failed]
            names = list(request.dispositions)
            weights = [
                sim.dispositions.get(n, DEFAULT_DISPOSITION_WEIGHTS.get(n, 1.0))
                if sim.dispositions
                else DEFAULT_DISPOSITION_WEIGHTS.get(n, 1.0)
                for n in names
            ]
            cached = (list(itertools.accumulate(rates)), names, list(itertools.accumulate(weights)))
            self._cache = {key: cached, **self._cache} if len(self._cache) < 64 else {key: cached}
        return cached

    def draw(self, request: CallRequest) -> tuple[str, float, float, str | None, float | None]:
        """(status, ring seconds, talk seconds, disposition, callback delay) for this attempt."""
        sim = request.simulate
        # Five uniforms in [0, 1) from one hash of (seed, lead, attempt): deterministic across
        # runs and machines, and cheaper than seeding a random.Random for every call.
        digest = hashlib.blake2b(
            f"{self.seed}\0{request.lead_key}\0{request.attempt_no}".encode(), digest_size=40
        ).digest()
        u = [int.from_bytes(digest[i : i + 8], "little") * _TO_UNIT for i in range(0, 40, 8)]
        outcome_edges, names, disposition_edges = self._weights(request)
        pick = u[0] * outcome_edges[-1]
        status = _OUTCOMES[min(bisect.bisect_right(outcome_edges, pick), 4)]
        ring_min, ring_max = sim.ring_time.min.total_seconds(), sim.ring_time.max.total_seconds()
        talk_min, talk_max = sim.talk_time.min.total_seconds(), sim.talk_time.max.total_seconds()
        ring = ring_min + (ring_max - ring_min) * u[1]
        talk = talk_min + (talk_max - talk_min) * u[2]
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
            pick = u[3] * disposition_edges[-1]
            disposition = names[min(bisect.bisect_right(disposition_edges, pick), len(names) - 1)]
            if disposition == "callback":
                callback = 3600 + (2 * 86400 - 3600) * u[4]
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
            await self._wait(ring + talk)
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
