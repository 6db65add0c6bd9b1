"""Which lead to dial next and when: lead-local windows, rate, attempt and frequency caps, DNC."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.schedule.window import CallingWindow, WindowCache

# Times are compared at microsecond precision; a shorter wait would be due at once and spin.
_MIN_PAUSE = 0.001


@dataclass(slots=True)
class LeadState:
    """A lead the run may dial, with what the run log says about it so far."""

    order: int
    row: int
    phone: str
    zones: tuple[str, ...]
    lead: dict
    attempts: int = 0
    ready_at: float = 0.0
    last_status: str | None = None


@dataclass
class QueueRules:
    """The pacing rules the queue enforces; replaced as a whole on hot reload."""

    window: CallingWindow | None
    max_attempts: int
    frequency_cap: tuple[int, float] | None = None  # (attempts, per seconds) across campaigns


@dataclass
class QueueStats:
    """Why leads left the queue without a dial, for the live display and the summary."""

    dialed: int = 0
    dropped_dnc: int = 0
    dropped_attempts: int = 0
    dropped_no_window: int = 0
    deferred_window: int = 0
    deferred_frequency: int = 0
    left_waiting: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class LeadQueue:
    """A priority queue of leads by the earliest instant each may be dialed.

    Workers call `next()`; only one waits for the head at a time, so the rate limit and the
    order hold. Every check is repeated at the moment of the dial: a lead queued before an
    opt-out, a window closing or a cap being reached is not dialed.
    """

    def __init__(
        self,
        clock,
        rules: QueueRules,
        rate,
        dnc: set[str],
        recent: dict[str, deque[float]] | None = None,
        max_calls: int | None = None,
        wait: bool = False,
        stop_at: float | None = None,
    ) -> None:
        self.clock = clock
        self.rules = rules
        self.rate = rate
        self.dnc = dnc
        self.recent = recent if recent is not None else {}
        self.max_calls = max_calls
        self.wait = wait
        self.stop_at = stop_at
        self.stats = QueueStats()
        self.in_flight = 0
        self._heap: list[tuple[float, int, int, LeadState]] = []
        self._seq = itertools.count()
        self._lock = asyncio.Lock()
        # the one worker that waits inside `next()` (it holds the lock) waits on this future, for
        # its timer, a stop or a rule change, and for what else can change its answer: a lead
        # pushed to be ready before `_wake_below`, a call ending when `_wake_on_end`
        self._waiter: asyncio.Future | None = None
        self._wake_below = -math.inf
        self._wake_on_end = False
        self._stopped = False
        self._windows: WindowCache | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def _now(self) -> float:
        return self.clock.timestamp()

    def _window(self) -> WindowCache | None:
        """The window checks of the rules in force (rebuilt when the rules' window changes)."""
        window = self.rules.window
        if window is None:
            return None
        cache = self._windows
        if cache is None or cache.window is not window:
            cache = self._windows = WindowCache(window)
        return cache

    def _changed(self) -> None:
        """Something a waiting `next()` may be waiting for happened: let it look again."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, lead: LeadState, not_before: float) -> bool:
        """Queue a lead for its first allowed instant at or after `not_before`; False if never."""
        window = self._window()
        start = max(not_before, self._now())
        ready = None if window is None else window.first_open(lead.zones, start)
        if ready is None:
            self.stats.dropped_no_window += 1
            return False
        lead.ready_at = ready
        heapq.heappush(self._heap, (ready, lead.order, next(self._seq), lead))
        if ready < self._wake_below:
            self._changed()
        return True

    def stop(self) -> None:
        """No new dials from now on (calls in progress go on)."""
        self._stopped = True
        self._changed()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def finished_call(self) -> None:
        self.in_flight -= 1
        if self._wake_on_end:
            self._changed()

    def next_ready_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    async def _pause(
        self, seconds: float | None, below: float = -math.inf, on_end: bool = False
    ) -> None:
        """Wait until `seconds` pass (None: no limit), the queue stops, the rules change, a
        lead is pushed to be ready before `below`, or (`on_end`) a call ends."""
        # One future and at most one timer, no task and no exception: this is the dial hot path.
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._wake_below, self._wake_on_end = below, on_end
        timer = None
        if seconds is not None:
            timer = loop.call_at(loop.time() + max(seconds, 0.0), _wake, waiter, _TIMER)
        try:
            await waiter
        finally:
            self._waiter = None
            self._wake_below, self._wake_on_end = -math.inf, False
            if timer is not None and (waiter.cancelled() or waiter.result() is not _TIMER):
                timer.cancel()  # it has not fired

    async def next(self) -> LeadState | None:
        """The next lead to dial now, or None when the run should dial no more."""
        # acquire/release rather than `async with`: two coroutines less per dial
        await self._lock.acquire()
        try:
            while True:
                if self._stopped:
                    return None
                if self.max_calls is not None and self.stats.dialed >= self.max_calls:
                    return None
                now = self._now()
                if not self._heap:
                    if self.in_flight == 0:
                        return None
                    await self._pause(None, math.inf, on_end=True)
                    continue
                ready = self._heap[0][0]
                if self.stop_at is not None and ready >= self.stop_at:
                    # beyond the run's horizon: let calls in progress finish, then stop
                    if self.in_flight == 0:
                        self.stats.left_waiting = len(self._heap)
                        return None
                    await self._pause(None, self.stop_at, on_end=True)
                    continue
                if ready > now:
                    if not self.wait and self.in_flight == 0:
                        self.stats.left_waiting = len(self._heap)
                        return None
                    await self._pause(max(ready - now, _MIN_PAUSE), ready, on_end=not self.wait)
                    continue
                mono = self.clock.monotonic()
                allowed = self.rate.next_allowed(mono)
                if allowed > mono:
                    # the head is due: only time (or a stop, or new rules) lets it be dialed
                    await self._pause(max(allowed - mono, _MIN_PAUSE))
                    continue
                _, _, _, lead = heapq.heappop(self._heap)
                if self._admit(lead, now):
                    self.rate.record(mono)
                    self.stats.dialed += 1
                    self.in_flight += 1
                    return lead
        finally:
            self._lock.release()

    def _admit(self, lead: LeadState, now: float) -> bool:
        """Last checks at the moment of the dial; a deferred lead goes back in the queue."""
        if lead.phone in self.dnc:
            self.stats.dropped_dnc += 1
            return False
        if lead.attempts >= self.rules.max_attempts:
            self.stats.dropped_attempts += 1
            return False
        window = self._window()
        if window is None or not window.is_open(lead.zones, now):
            self.stats.deferred_window += 1
            self.push(lead, now)
            return False
        cap = self.rules.frequency_cap
        if cap is not None:
            attempts, per = cap
            recent = self.recent.get(lead.phone)
            if recent is not None:
                while recent and recent[0] <= now - per:
                    recent.popleft()
                if len(recent) >= attempts:
                    self.stats.deferred_frequency += 1
                    self.push(lead, recent[0] + per)
                    return False
        return True

    def note_dial(self, phone: str, at: float) -> None:
        """Remember a dial for the cross-campaign frequency cap."""
        if self.rules.frequency_cap is not None:
            self.recent.setdefault(phone, deque()).append(at)

    def waiting(self) -> list[LeadState]:
        return [entry[3] for entry in self._heap]

    def wake(self) -> None:
        self._changed()

    def replace_rules(
        self, rules: QueueRules, reschedule: Callable[[], None] | None = None
    ) -> None:
        self.rules = rules
        if reschedule:
            reschedule()
        self._changed()


_TIMER = object()  # what a pause's timer wakes it with


def _wake(waiter: asyncio.Future, why: object) -> None:
    if not waiter.done():
        waiter.set_result(why)
