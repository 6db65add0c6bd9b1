"""Which lead to dial next and when: lead-local windows, rate, attempt and frequency caps, DNC."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dialer.schedule.window import CallingWindow, is_open, next_open

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
        self._changed = asyncio.Event()
        self._stopped = False

    def __len__(self) -> int:
        return len(self._heap)

    def _now(self) -> float:
        return self.clock.timestamp()

    def push(self, lead: LeadState, not_before: float) -> bool:
        """Queue a lead for its first allowed instant at or after `not_before`; False if never."""
        window = self.rules.window
        if window is None:
            self.stats.dropped_no_window += 1
            return False
        start = datetime.fromtimestamp(max(not_before, self._now()), UTC)
        if is_open(window, lead.zones, start):
            ready = start.timestamp()
        else:
            when = next_open(window, lead.zones, start)
            if when is None:
                self.stats.dropped_no_window += 1
                return False
            ready = when.timestamp()
        lead.ready_at = ready
        heapq.heappush(self._heap, (ready, lead.order, next(self._seq), lead))
        self._changed.set()
        return True

    def stop(self) -> None:
        """No new dials from now on (calls in progress go on)."""
        self._stopped = True
        self._changed.set()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def finished_call(self) -> None:
        self.in_flight -= 1
        self._changed.set()

    def next_ready_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    async def _pause(self, seconds: float | None) -> None:
        """Wait until something changes or `seconds` pass (None: until something changes)."""
        self._changed.clear()
        if seconds is None:
            await self._changed.wait()
            return
        # asyncio.timeout, not wait_for: no extra task per pause (this is the dial hot path)
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                await self._changed.wait()
        except TimeoutError:
            pass

    async def next(self) -> LeadState | None:
        """The next lead to dial now, or None when the run should dial no more."""
        async with self._lock:
            while True:
                if self._stopped:
                    return None
                if self.max_calls is not None and self.stats.dialed >= self.max_calls:
                    return None
                now = self._now()
                if not self._heap:
                    if self.in_flight == 0:
                        return None
                    await self._pause(None)
                    continue
                ready = self._heap[0][0]
                if self.stop_at is not None and ready >= self.stop_at:
                    # beyond the run's horizon: let calls in progress finish, then stop
                    if self.in_flight == 0:
                        self.stats.left_waiting = len(self._heap)
                        return None
                    await self._pause(None)
                    continue
                if ready > now:
                    if not self.wait and self.in_flight == 0:
                        self.stats.left_waiting = len(self._heap)
                        return None
                    await self._pause(max(ready - now, _MIN_PAUSE))
                    continue
                mono = self.clock.monotonic()
                allowed = self.rate.next_allowed(mono)
                if allowed > mono:
                    await self._pause(max(allowed - mono, _MIN_PAUSE))
                    continue
                _, _, _, lead = heapq.heappop(self._heap)
                if self._admit(lead, now):
                    self.rate.record(mono)
                    self.stats.dialed += 1
                    self.in_flight += 1
                    return lead

    def _admit(self, lead: LeadState, now: float) -> bool:
        """Last checks at the moment of the dial; a deferred lead goes back in the queue."""
        if lead.phone in self.dnc:
            self.stats.dropped_dnc += 1
            return False
        if lead.attempts >= self.rules.max_attempts:
            self.stats.dropped_attempts += 1
            return False
        window = self.rules.window
        if window is None or not is_open(window, lead.zones, datetime.fromtimestamp(now, UTC)):
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
        self._changed.set()

    def replace_rules(
        self, rules: QueueRules, reschedule: Callable[[], None] | None = None
    ) -> None:
        self.rules = rules
        if reschedule:
            reschedule()
        self._changed.set()
