"""The clock the runner asks for the time and for sleeps: real time, or simulated (virtual) time.

Logic never calls `datetime.now()` or `asyncio.sleep()` directly; it is handed a `Clock`.
`RealClock` reads the system clock. `VirtualClock` reads a `VirtualTimeLoop`, an asyncio event
loop whose `time()` is simulated: whenever the loop would block waiting for its next timer and no
real I/O is ready, it jumps straight to that timer instead. A week-long campaign with calling
windows and retry delays therefore runs in seconds, and because the loop itself is virtual,
`asyncio.sleep`, `asyncio.wait_for`, `asyncio.timeout` and `loop.call_later` all follow simulated
time too, even in code that does not know about the clock.

How the virtual loop waits, each time the loop asks its selector for events:

1. Poll the real selector without blocking. Ready I/O (sockets, the loop's self-pipe that carries
   `call_soon_threadsafe` wake-ups and signals) is handled first and time does not move.
2. The loop has callbacks ready (timeout 0): return at once.
3. The loop has no timers at all (timeout None): block on the real selector, as a real loop does.
   This is how a thread's result (`asyncio.to_thread`, `run_in_executor`) is awaited when nothing
   else is scheduled.
4. Otherwise (timeout > 0): advance virtual time by the timeout, which is exactly the wait until
   the next timer (asyncio asks for at most a day at a time; the loop then jumps again), and
   return no events.

While timers or callbacks are pending, the loop polls (step 1) only every 64th turn and otherwise
goes straight to step 2 or 4: the only real I/O is then the self-pipe, and a syscall per turn
would cost more than the rest of the turn.

Same program, same timers, same order: a run that does no real I/O and uses no threads is
deterministic. Timers due at the same instant fire in asyncio's heap order, as on a real loop:
deterministic, though not necessarily the order they were scheduled in.

Caveat: threads run in real time, virtual time does not wait for them. While a thread is busy
and any timer is pending, step 4 keeps jumping, so by the time the thread's result arrives the
simulated clock may have moved on by hours. The result always arrives (test_clock checks it);
only its simulated timestamp is arbitrary. That is why the runner does its run-log writes
synchronously (not via a thread) in virtual mode: every timestamp stays the simulated one and a
run is reproducible.

Timestamps have microsecond resolution, like `datetime`: timers due less than a microsecond
apart run in the same loop turn. `now()` is always aware and in UTC.
"""

from __future__ import annotations

import asyncio
import heapq
import selectors
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

_RESOLUTION = 1e-6
_MAX_SELECT = 24 * 3600.0  # asyncio's longest selector wait (base_events.MAXIMUM_SELECT_TIMEOUT)

__all__ = [
    "Clock",
    "RealClock",
    "VirtualClock",
    "VirtualTimeLoop",
    "run_real",
    "run_virtual",
]


@runtime_checkable
class Clock(Protocol):
    """What the runner asks for the time: wall time for the run log, monotonic time for pacing."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (returns after one loop turn when `seconds <= 0`)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Wait until `now() >= when`; returns at once, without yielding, when it already is."""
        ...


class RealClock:
    """The system clock: `datetime.now(UTC)`, `time.monotonic()` and `asyncio.sleep`."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        """`now()` as UTC epoch seconds, without building a datetime (hot paths)."""
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        return asyncio.sleep(seconds)  # the coroutine itself: no wrapper frame per sleep

    async def sleep_until(self, when: datetime) -> None:
        # Timers run on the monotonic clock and the wall clock may be stepped meanwhile (NTP).
        await _sleep_until(self, when)

    def __repr__(self) -> str:
        return "RealClock()"


class VirtualClock:
    """Simulated time: `now()` is `start` plus the virtual seconds elapsed on a `VirtualTimeLoop`.

    Sleeps are ordinary asyncio sleeps; on the virtual loop they complete as soon as nothing
    earlier is due, at exactly the simulated time asked for.
    """

    def __init__(self, loop: VirtualTimeLoop, start: datetime) -> None:
        _require_aware(start, "start")
        self._loop = loop
        self._start = start.astimezone(UTC)
        self._origin = loop.time()
        self._epoch0 = self._start.timestamp() - self._origin

    @property
    def start(self) -> datetime:
        """The simulated time at which this clock was created, in UTC."""
        return self._start

    @property
    def loop(self) -> VirtualTimeLoop:
        """The loop whose virtual time this clock reads."""
        return self._loop

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._loop.time() - self._origin)

    def timestamp(self) -> float:
        """`now()` as UTC epoch seconds, without building a datetime (hot paths)."""
        return self._epoch0 + self._loop._virtual_time  # `time()`, a call less per read

    def monotonic(self) -> float:
        return self._loop._virtual_time

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        return asyncio.sleep(seconds)  # the coroutine itself: no wrapper frame per sleep

    async def sleep_until(self, when: datetime) -> None:
        await _sleep_until(self, when)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now().isoformat()})"


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose `time()` is simulated and jumps to the next timer when idle.

    Virtual time starts at 0.0 and moves only inside the selector (see the module docstring), so
    callbacks and coroutines always observe a still clock while they run.
    """

    def __init__(self) -> None:
        self._virtual_time = 0.0
        # the timers, as a heap of (when, handle) where asyncio keeps a heap of handles: see
        # `_run_once`
        self._timers: list[tuple[float, asyncio.TimerHandle]] = []
        self._turns = 0  # turns that did not block (see `_run_once`)
        super().__init__(selector=_JumpingSelector(self._advance))
        # asyncio runs a timer once `when < time() + resolution`. With the default (1 ns) and a
        # loop time past ~100 days, `time() + 1e-9` rounds back to `time()` and a timer due right
        # now never runs: a real loop escapes because its clock keeps moving, a virtual one spins
        # forever. One microsecond, the resolution of `datetime`, holds for 270 years of loop time.
        self._clock_resolution = _RESOLUTION

    def time(self) -> float:
        return self._virtual_time

    def _advance(self, seconds: float) -> None:
        self._virtual_time += seconds

    # A forecast is a few hundred thousand timers on one loop, and asyncio orders its timer heap
    # with `TimerHandle.__lt__`, a Python call per comparison: most of what a timer costs. This
    # loop keeps (when, handle) pairs instead, compared in C. A pair is less than another exactly
    # when its handle is (equal times fall through to the handles, which are then not less
    # either way), so the heap changes exactly as asyncio's would and timers due at the same
    # instant still fire in asyncio's order. `call_at` and `_run_once` are asyncio's own (3.11-
    # 3.13), but for the heap; `call_later` and cancelling are asyncio's.

    def call_soon(self, callback, *args, context=None):  # noqa: ANN001, ANN201 (asyncio's)
        # asyncio's, in one call: a task's every wakeup comes through here
        if self._debug:
            return super().call_soon(callback, *args, context=context)
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_at(self, when, callback, *args, context=None):  # noqa: ANN001, ANN201 (asyncio's)
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        heapq.heappush(self._timers, (when, timer))
        timer._scheduled = True
        return timer

    def _run_once(self) -> None:
        timers = self._timers
        count = len(timers)
        if count > 100 and self._timer_cancelled_count / count > 0.5:
            # most timers are cancelled ones: drop them all (asyncio's thresholds)
            kept = []
            for entry in timers:
                if entry[1]._cancelled:
                    entry[1]._scheduled = False
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._timers = timers = kept
            self._timer_cancelled_count = 0
        else:
            while timers and timers[0][1]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(timers)[1]._scheduled = False

        ready = self._ready
        timeout = None
        if ready or self._stopping:
            timeout = 0
        elif timers:
            timeout = min(max(0, timers[0][0] - self._virtual_time), _MAX_SELECT)
        if timeout is None:
            events = self._selector.select(None)  # nothing scheduled: wait for real I/O
        else:
            # Real I/O here is the loop's self-pipe (signals, other threads): looking for it
            # every 64th turn keeps it prompt in real time and spares a syscall on the others,
            # which jump straight to the next timer (as the selector does when nothing is ready).
            self._turns += 1
            if self._turns & 63:
                events = None
                if timeout > 0:
                    self._virtual_time += timeout
            else:
                events = self._selector.select(timeout)
        if events:
            self._process_events(events)

        end = self._virtual_time + self._clock_resolution
        while timers and timers[0][0] < end:
            handle = heapq.heappop(timers)[1]
            handle._scheduled = False
            ready.append(handle)

        # Only the callbacks ready now; those they schedule run on the next turn. asyncio's
        # slow-callback warning (debug mode) is left out: virtual time never moves in a callback.
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    def close(self) -> None:
        super().close()
        self._timers.clear()

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        # Python 3.12+ bounds this join with a timer, which virtual time would expire at once
        # while the executor threads are still finishing in real time. Join without one.
        await super().shutdown_default_executor()


class _JumpingSelector(selectors.BaseSelector):
    """A real selector that, instead of blocking until a timer is due, advances virtual time."""

    def __init__(self, advance: Callable[[float], None]) -> None:
        self._real = selectors.DefaultSelector()
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # The loop asks only every 64th turn when it has timers; on the others it jumps itself.
        ready = self._real.select(0)
        if ready or timeout is not None and timeout <= 0:
            return ready
        if timeout is None:
            # Nothing scheduled: only real I/O or another thread can wake the loop.
            return self._real.select(None)
        self._advance(timeout)
        return []

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


def run_virtual(main: Callable[[VirtualClock], Awaitable[T]], start: datetime) -> T:
    """Run the coroutine `main(clock)` to completion on a fresh `VirtualTimeLoop`.

    The clock reads `start` when `main` begins. Like `asyncio.run`: remaining tasks are cancelled,
    async generators and the default executor are shut down, and the loop is closed at the end.
    """
    _require_aware(start, "start")
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, VirtualTimeLoop)
        return runner.run(_as_coroutine(main(VirtualClock(loop, start))))


def run_real(main: Callable[[RealClock], Awaitable[T]]) -> T:
    """Run the coroutine `main(clock)` on a fresh event loop, as `asyncio.run` does.

    `main` may install loop signal handlers (`asyncio.get_running_loop().add_signal_handler`);
    they replace `asyncio.run`'s default Ctrl-C handling for the rest of the run.
    """
    with asyncio.Runner() as runner:
        return runner.run(_as_coroutine(main(RealClock())))


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    # Runner.run wants a coroutine; `main` may be any callable returning an awaitable.
    return await awaitable


async def _sleep_until(clock: Clock, when: datetime) -> None:
    _require_aware(when, "when")
    # Loop until the clock itself says `when` has come: a timer may fire a hair early (asyncio
    # allows one clock-resolution tick), a stepped wall clock may lag, and float loop times may
    # round a microsecond short. Each pass sleeps at least 1 µs, so this ends.
    while (delay := (when - clock.now()).total_seconds()) > 0:
        await asyncio.sleep(delay)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name}: expected a timezone-aware datetime, got {value!r}")
