"""The offline simulator: outcomes, ring and talk times drawn per lead from the campaign's rates."""

from __future__ import annotations

import random

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


class SimulatedBackend:
    """A handler-driven stand-in for real calls; deterministic for a seed and a lead's attempt."""

    name = "simulate"

    def __init__(self, clock, seed: int = 0, speed: float = 1.0) -> None:
        self.clock = clock
        self.seed = seed
        self.speed = speed if speed > 0 else 1.0

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await self.clock.sleep(seconds / self.speed)

    def draw(self, request: CallRequest) -> tuple[str, float, float, str | None, float | None]:
        """(status, ring seconds, talk seconds, disposition, callback delay) for this attempt."""
        sim = request.simulate
        rng = random.Random(f"{self.seed}\0{request.lead_key}\0{request.attempt_no}")
        outcomes = [("completed", sim.answer), ("busy", sim.busy), ("no_answer", sim.no_answer),
                    ("voicemail", sim.voicemail), ("failed", sim.failed)]
        status = rng.choices([o for o, _ in outcomes], [w for _, w in outcomes])[0]
        ring = rng.uniform(sim.ring_time.min.total_seconds(), sim.ring_time.max.total_seconds())
        talk = rng.uniform(sim.talk_time.min.total_seconds(), sim.talk_time.max.total_seconds())
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
        if status == "completed":
            names = request.dispositions
            weights = [sim.dispositions.get(n, DEFAULT_DISPOSITION_WEIGHTS.get(n, 1.0))
                       if sim.dispositions else DEFAULT_DISPOSITION_WEIGHTS.get(n, 1.0)
                       for n in names]
            if names and sum(weights) > 0:
                disposition = rng.choices(names, weights)[0]
            if disposition == "callback":
                callback = rng.uniform(3600, 2 * 86400)
        return status, ring, talk, disposition, callback

    async def place_call(self, request: CallRequest) -> CallResult:
        status, ring, talk, disposition, callback = self.draw(request)
        started = self.clock.now().timestamp()
        await self._wait(ring)
        answered = self.clock.now().timestamp() if status in ("completed", "voicemail") else None
        transcript: list[tuple[float | None, str, str]] = []
        if status == "completed":
            opening = request.prompts.opening
            transcript = [(answered, "agent", opening),
                          (answered, "user", _REPLIES.get(disposition or "", "Okay."))]
        elif status == "voicemail":
            message = request.prompts.voicemail
            if message:
                transcript = [(answered, "agent", message)]
        await self._wait(talk)
        ended = self.clock.now().timestamp()
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
