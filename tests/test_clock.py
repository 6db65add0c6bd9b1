"""The injected clock: real time, and virtual time where a simulated week passes in moments."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.schedule.clock import (
    Clock,
    RealClock,
    VirtualClock,
    VirtualTimeLoop,
    run_real,
    run_virtual,
)

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


def test_a_simulated_week_of_hourly_sleeps_takes_moments_and_lands_exactly():
    async def main(clock: VirtualClock) -> tuple[datetime, float]:
        for _ in range(7 * 24):
            await clock.sleep(3600)
        return clock.now(), clock.monotonic()

    started = time.perf_counter()
    now, monotonic = run_virtual(main, START)
    wall = time.perf_counter() - started

    assert now == START + timedelta(days=7)
    assert monotonic == 7 * 86400
    assert wall < 5  # sanity bound only; typically a few milliseconds


def test_one_long_sleep_crosses_the_loop_s_one_day_select_cap():
    # asyncio never waits more than a day per select call; the loop keeps jumping until due.
    async def main(clock: VirtualClock) -> datetime:
        await clock.sleep(30 * 86400 + 0.25)
        return clock.now()

    assert run_virtual(main, START) == START + timedelta(days=30, milliseconds=250)


def test_concurrent_sleepers_wake_in_time_order_at_exact_simulated_times():
    rng = random.Random(7)
    # whole milliseconds over two days, some of them equal
    delays = [rng.randrange(2 * 86_400_000) / 1000 for _ in range(200)] + [90.0, 90.0, 90.0]

    async def main(clock: VirtualClock) -> list[tuple[datetime, int]]:
        woke: list[tuple[datetime, int]] = []

        async def sleeper(i: int) -> None:
            await clock.sleep(delays[i])
            woke.append((clock.now(), i))

        async with asyncio.TaskGroup() as tg:
            for i in range(len(delays)):
                tg.create_task(sleeper(i))
        return woke

    woke = run_virtual(main, START)

    assert len(woke) == len(delays)
    assert [at for at, _ in woke] == sorted(at for at, _ in woke)
    for at, i in woke:
        assert at == START + timedelta(seconds=delays[i])


def test_wait_for_times_out_at_the_virtual_deadline():
    async def main(clock: VirtualClock) -> datetime:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(clock.sleep(3600), timeout=90)
        return clock.now()

    assert run_virtual(main, START) == START + timedelta(seconds=90)


def test_asyncio_timeout_and_call_later_follow_virtual_time():
    async def main(clock: VirtualClock) -> tuple[datetime, datetime]:
        loop = asyncio.get_running_loop()
        fired: asyncio.Future[datetime] = loop.create_future()
        loop.call_later(45 * 60, lambda: fired.set_result(clock.now()))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2 * 3600):
                await asyncio.Event().wait()
        return await fired, clock.now()

    fired_at, timed_out_at = run_virtual(main, START)
    assert fired_at == START + timedelta(minutes=45)
    assert timed_out_at == START + timedelta(hours=2)


def test_sleep_until_lands_on_the_instant_and_returns_at_once_for_the_past():
    new_york = ZoneInfo("America/New_York")

    async def main(clock: VirtualClock) -> list[datetime]:
        seen = []
        await clock.sleep_until(datetime(2026, 3, 2, 9, 0, 0, 1, tzinfo=new_york))
        seen.append(clock.now())

        ran: list[str] = []

        async def other() -> None:
            ran.append("other")

        task = asyncio.get_running_loop().create_task(other())
        await clock.sleep_until(START)  # in the past
        await clock.sleep_until(clock.now())  # exactly now
        seen.append(clock.now())
        assert ran == []  # "at once" means without yielding: the other task has not run yet
        await task
        return seen

    first, second = run_virtual(main, START)
    assert first == datetime(2026, 3, 2, 14, 0, 0, 1, tzinfo=UTC)
    assert first.tzinfo is UTC
    assert second == first


def test_timers_still_fire_and_sleep_until_is_exact_far_into_a_long_run():
    # Past ~100 days of loop time a float cannot hold time() + 1 ns; asyncio's default resolution
    # then never runs a timer due "now" and the virtual loop used to spin forever right here.
    # A clock made late in the loop's life (origin far from 0) still lands on the microsecond.
    async def main(clock: VirtualClock) -> list[datetime]:
        await clock.sleep(400 * 86400 + 0.3)
        await asyncio.wait_for(asyncio.sleep(0.1), timeout=1)
        late = VirtualClock(clock.loop, START)
        seen = []
        for i in range(1, 50):
            when = START + timedelta(days=i, microseconds=7 * i)
            await late.sleep_until(when)
            seen.append(late.now() - when)
        return seen

    assert set(run_virtual(main, START)) == {timedelta(0)}


def test_a_thread_result_arrives_and_without_timers_virtual_time_stands_still():
    def slow() -> str:
        time.sleep(0.05)
        return threading.current_thread().name

    async def main(clock: VirtualClock) -> tuple[str, datetime]:
        name = await asyncio.to_thread(slow)
        return name, clock.now()

    name, now = run_virtual(main, START)
    assert name != threading.current_thread().name
    assert now == START


def test_a_thread_result_arrives_while_timers_keep_virtual_time_jumping():
    def slow() -> int:
        time.sleep(0.05)
        return 42

    async def main(clock: VirtualClock) -> tuple[int, datetime]:
        async def ticker() -> None:
            while True:
                await clock.sleep(60)

        tick = asyncio.get_running_loop().create_task(ticker())
        result = await asyncio.to_thread(slow)
        tick.cancel()
        return result, clock.now()

    result, now = run_virtual(main, START)
    assert result == 42
    # the documented caveat: simulated time may run on while the thread works, but only from
    # timer to timer
    assert (now - START) % timedelta(minutes=1) == timedelta(0)


def _simulation(clock: VirtualClock) -> asyncio.Future[list[tuple[str, str]]]:
    """Producers, consumers, timeouts and cancellation on random (seeded) delays."""

    async def main() -> list[tuple[str, str]]:
        rng = random.Random(11)
        log: list[tuple[str, str]] = []
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=3)

        def note(event: str) -> None:
            log.append((clock.now().isoformat(), event))

        async def producer(p: int) -> None:
            for i in range(15):
                await clock.sleep(rng.choice([0.5, 7, 60, 3600, 1.25]))
                await queue.put(p * 100 + i)
                note(f"put {p * 100 + i}")

        async def consumer(c: int) -> None:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=rng.choice([30, 900]))
                except TimeoutError:
                    note(f"consumer {c} idle")
                    continue
                await clock.sleep(rng.choice([2, 45, 600]))
                note(f"consumer {c} done {item}")
                queue.task_done()

        consumers = [asyncio.get_running_loop().create_task(consumer(c)) for c in range(3)]
        async with asyncio.TaskGroup() as tg:
            for p in range(4):
                tg.create_task(producer(p))
        await queue.join()
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        note("end")
        return log

    return main()


def test_virtual_runs_are_deterministic():
    first = run_virtual(_simulation, START)
    second = run_virtual(_simulation, START)
    assert len(first) > 100
    assert first == second
    assert [at for at, _ in first] == sorted(at for at, _ in first)


def _timer_order(loop: asyncio.AbstractEventLoop, base: float) -> list[int]:
    """Fire order of 300 timers over three instants 10 ms apart (most of them tied), after
    cancelling most of them at once (the loop then drops the cancelled ones in one pass) and,
    while they fire, a few more."""
    rng = random.Random(11)
    fired: list[int] = []
    handles: list[asyncio.TimerHandle] = []

    def fire(i: int) -> None:
        fired.append(i)
        if i % 7 == 0 and i + 1 < len(handles):
            handles[i + 1].cancel()
        if len(fired) == 120 - 5:
            loop.stop()

    def schedule() -> None:
        for i in range(300):
            handles.append(loop.call_at(base + rng.choice((0.0, 0.01, 0.02)), fire, i))
        for i in rng.sample(range(300), 180):
            handles[i].cancel()

    loop.call_soon(schedule)
    loop.call_at(base + 1.0, loop.stop)  # a safety net, in case fewer fire
    loop.run_forever()
    return fired


def test_timers_due_at_one_instant_fire_in_asyncio_s_own_order():
    # The virtual loop keeps its timer heap differently; it must pop exactly as asyncio does.
    virtual = VirtualTimeLoop()
    real = asyncio.SelectorEventLoop()
    try:
        expected = _timer_order(real, real.time() + 0.05)
        got = _timer_order(virtual, virtual.time() + 0.05)
    finally:
        real.close()
        virtual.close()
    assert len(expected) > 100
    assert got == expected


def test_run_virtual_returns_the_result_and_raises_what_main_raises():
    async def boom(clock: VirtualClock) -> None:
        await clock.sleep(10)
        raise LookupError("from main")

    with pytest.raises(LookupError, match="from main"):
        run_virtual(boom, START)


def test_naive_datetimes_are_refused():
    async def main(clock: Clock) -> None:
        await clock.sleep_until(datetime(2026, 1, 1))

    with pytest.raises(ValueError, match="start: expected a timezone-aware datetime"):
        run_virtual(main, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="when: expected a timezone-aware datetime"):
        run_virtual(main, START)


def test_run_virtual_uses_a_fresh_virtual_loop_each_time():
    async def main(clock: VirtualClock) -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        await clock.sleep(5)
        return isinstance(loop, VirtualTimeLoop) and loop is clock.loop, loop.time()

    assert run_virtual(main, START) == (True, 5.0)
    assert run_virtual(main, START) == (True, 5.0)


@pytest.mark.skipif(sys.platform == "win32", reason="loop signal handlers are Unix-only")
@pytest.mark.parametrize("runner", ["real", "virtual"])
def test_main_can_install_loop_signal_handlers_and_they_fire_while_time_jumps(runner):
    async def main(clock: Clock) -> timedelta:
        loop = asyncio.get_running_loop()
        got = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, got.set)

        # a bare timer chain: no task wakes, so the loop never has a ready callback to run and
        # would jump from timer to timer without ever looking at I/O, unless it polls first
        ticks: list[asyncio.TimerHandle] = []

        def tick() -> None:
            ticks.append(loop.call_later(1, tick))

        tick()
        began = clock.now()

        def send() -> None:
            time.sleep(0.02)  # let the loop settle into jumping from tick to tick
            os.kill(os.getpid(), signal.SIGUSR1)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            await asyncio.wait_for(got.wait(), timeout=86400)
        finally:
            sender.join()
            ticks[-1].cancel()
            loop.remove_signal_handler(signal.SIGUSR1)
        return clock.now() - began

    # the virtual loop must look at real I/O (the signal's wake-up byte) before each jump; if it
    # did not, a simulated day of one-second ticks would pass and wait_for would time out
    waited = run_real(main) if runner == "real" else run_virtual(main, START)
    assert waited < timedelta(days=1)


def test_real_clock_basics():
    async def main(clock: RealClock) -> tuple[datetime, float, datetime, datetime]:
        before = clock.now()
        t0 = clock.monotonic()
        await clock.sleep(0.01)
        slept = clock.monotonic() - t0
        target = clock.now() + timedelta(milliseconds=20)
        await clock.sleep_until(target)
        reached = clock.now()
        await clock.sleep_until(before - timedelta(hours=1))  # in the past: at once
        return before, slept, target, reached

    before, slept, target, reached = run_real(main)
    assert before.tzinfo is UTC
    assert abs(before - datetime.now(UTC)) < timedelta(minutes=1)
    assert 0.009 <= slept < 5
    assert target <= reached < target + timedelta(seconds=5)
    assert isinstance(RealClock(), Clock)
    assert isinstance(VirtualClock(VirtualTimeLoop(), START), Clock)
