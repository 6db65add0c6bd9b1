"""How fast dials may start: never more than the limit in any 60-second window, evenly paced.

The contract says "in no 60-second window more than `calls_per_minute` dials". `RateLimiter`
enforces two rules on dial start times, both as exact sliding windows over the recorded dials:

- the limit (the contract): at most `limit = max(1, floor(rate * window / 60))` dials start in
  any half-open window `[s, s + window)`; with the default 60-second window that is
  `floor(calls_per_minute)`;
- the pace (the smoothing): at most `burst` dials start in any half-open span of
  `burst * interval` seconds, where `interval = max(60 / rate, window / limit)`.

With the default `burst=1` dials start at least `interval` apart: 30/min dials at 0, 2, 4 s …,
0.5/min every 120 s, 45.5/min every 60/45 s (the limit is whole dials, so 45 a minute, evenly).

Why evenly paced by default rather than a pure sliding window: a pure window lets all 30 of a
minute's dials start in its first second. Carriers cap SIP trunks in calls per second, the agent
pool and the realtime model sessions take the answered calls all at once, and the next 59 seconds
sit idle; spreading dials `60/rate` apart is what predictive dialers do and gives the same count
per minute. The limit rule stays on underneath as the exact guard: pacing alone lets
`ceil(rate)` dials into a window for a fractional rate and can gain a dial from float rounding,
and after a rate cut it is the limit rule that holds dialing until the last 60 s fit the new
limit. Pass `burst=N` to allow N dials back to back (N dials per N intervals); `burst >= limit`
is a pure sliding window.

Rate changes (`set_rate`) apply from the next dial on, and every window is held to the limit in
force when its last dial started. A cut therefore pauses dialing until the last 60 s hold fewer
dials than the new limit; a raise takes effect at once, so a window spanning a raise may hold
the new, higher count. That is deliberate: the new limit is what the contract allows now, and
the operator who raised it expects the next dial sooner, not a minute later.

Times are plain floats in the caller's units (the clock's `monotonic()` seconds). Dial times must
not go backwards: `next_allowed` never answers earlier than the latest recorded dial, and
`record` refuses an earlier one. Each call is O(1) amortised: the recorded dials live in two
deques that keep only the last `limit` and the last `burst` of them; older dials can no longer
matter, because each was at least `window` before a dial already recorded.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["RateLimiter"]


class RateLimiter:
    """An exact sliding-window limit on dial starts, evenly paced unless `burst` says otherwise.

    Ask `next_allowed(now)` for the earliest start, wait until then, ask again (another worker may
    have taken the slot), and `record(now)` when the dial starts. `reserve(now)` does both in one
    step for a caller that will then wait and dial.
    """

    __slots__ = ("_rate", "_window", "_burst", "_limit", "_span", "_recent", "_last_burst")

    def __init__(self, per_minute: float, window: float = 60.0, burst: int = 1) -> None:
        if not (isinstance(window, int | float) and math.isfinite(window) and window > 0):
            raise ValueError(f"window: expected a positive number of seconds, got {window!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst: expected a whole number of dials >= 1, got {burst!r}")
        self._window = float(window)
        self._burst = burst
        # start times of the last `limit` dials (possibly more right after a rate cut)
        self._recent: deque[float] = deque()
        # start times of the last `burst` dials
        self._last_burst: deque[float] = deque(maxlen=burst)
        self.set_rate(per_minute)

    @property
    def per_minute(self) -> float:
        """The rate in force, in dials per 60 seconds."""
        return self._rate

    @property
    def window(self) -> float:
        """The length of the sliding window the limit applies to, in seconds."""
        return self._window

    @property
    def burst(self) -> int:
        """How many dials may start back to back before pacing spaces them out."""
        return self._burst

    @property
    def limit(self) -> int:
        """The most dials that may start in any half-open window of `window` seconds."""
        return self._limit

    @property
    def interval(self) -> float:
        """The mean spacing of dials at full demand, in seconds."""
        return self._span / self._burst

    def set_rate(self, per_minute: float) -> None:
        """Use a new rate from the next dial on; dials already recorded still count against it."""
        if not (
            isinstance(per_minute, int | float)
            and not isinstance(per_minute, bool)
            and math.isfinite(per_minute)
            and per_minute > 0
        ):
            raise ValueError(
                f"per_minute: expected a positive number of dials per minute, got {per_minute!r}"
            )
        limit = max(1, math.floor(per_minute * (self._window / 60.0)))
        interval = max(60.0 / per_minute, self._window / limit)
        self._rate = float(per_minute)
        self._limit = limit
        self._span = self._burst * interval
        # The deque is not trimmed here: after a cut the dials beyond the new limit still sit in
        # the current window, and a raise that followed before the next dial must see them.

    def next_allowed(self, now: float) -> float:
        """The earliest time, not before `now`, at which a dial may start. Changes nothing."""
        recent = self._recent
        if not recent:
            return now
        at = recent[-1] if recent[-1] > now else now
        if len(recent) >= self._limit:
            bound = recent[-self._limit] + self._window
            if bound > at:
                at = bound
        last_burst = self._last_burst
        if len(last_burst) == self._burst:
            bound = last_burst[0] + self._span
            if bound > at:
                at = bound
        return at

    def record(self, now: float) -> None:
        """Note that a dial started at `now` (the caller checked `now >= next_allowed(now)`)."""
        recent = self._recent
        if recent and now < recent[-1]:
            raise ValueError(
                f"record: dial times must not go backwards, got {now} after {recent[-1]}"
            )
        recent.append(now)
        while len(recent) > self._limit:
            recent.popleft()
        self._last_burst.append(now)

    def reserve(self, now: float) -> float:
        """Claim the earliest slot from `now` on and return its time; the caller dials then.

        A claimed slot counts as dialed: a caller that then does not dial wastes the slot, which
        only ever slows dialing down.
        """
        at = self.next_allowed(now)
        self.record(at)
        return at

    def __repr__(self) -> str:
        return (
            f"RateLimiter(per_minute={self._rate:g}, window={self._window:g}, burst={self._burst})"
        )
