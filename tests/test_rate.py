"""Dial pacing: never more than the limit in any 60-second window, evenly spaced by default."""

from __future__ import annotations

import math
from bisect import bisect_right

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.schedule.rate import RateLimiter


def dial_at_full_demand(limiter: RateLimiter, count: int, now: float = 0.0) -> list[float]:
    """Start `count` dials, each as early as the limiter allows."""
    return [limiter.reserve(now) for _ in range(count)]


def most_in_any_window(times: list[float], window: float) -> int:
    """The most of the (sorted) `times` that fall in one half-open window `[s, s + window)`."""
    ends = [t + window for t in times]
    return max(k + 1 - bisect_right(ends, t) for k, t in enumerate(times))


# -- examples -------------------------------------------------------------------------------------


def test_30_a_minute_dials_every_2_seconds():
    assert dial_at_full_demand(RateLimiter(30), 6) == [0, 2, 4, 6, 8, 10]
    times = dial_at_full_demand(RateLimiter(30), 300)
    assert times[30] == 60
    assert most_in_any_window(times, 60) == 30


def test_a_rate_below_one_a_minute_spaces_dials_further_than_a_minute():
    assert dial_at_full_demand(RateLimiter(0.5), 3, now=1000) == [1000, 1120, 1240]
    assert dial_at_full_demand(RateLimiter(0.2), 2) == [0, 300]


def test_a_fractional_rate_allows_whole_dials_evenly_spread():
    limiter = RateLimiter(45.5)
    assert limiter.limit == 45
    assert limiter.interval == pytest.approx(60 / 45)
    times = dial_at_full_demand(limiter, 45 * 10)
    assert most_in_any_window(times, 60) == 45
    assert times[-1] < 600  # and no slower than 45 a minute
    gaps = {round(b - a, 9) for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {round(60 / 45, 9)}


def test_between_one_and_two_a_minute_the_limit_is_one_a_minute():
    assert dial_at_full_demand(RateLimiter(1.5), 3) == [0, 60, 120]


def test_a_caller_who_waits_longer_is_not_made_to_wait_again():
    limiter = RateLimiter(30)
    limiter.record(0)
    assert limiter.next_allowed(1) == 2
    assert limiter.next_allowed(7.5) == 7.5
    limiter.record(7.5)
    assert limiter.next_allowed(7.5) == 9.5


def test_next_allowed_changes_nothing_and_is_its_own_answer():
    limiter = RateLimiter(30)
    dial_at_full_demand(limiter, 5)
    first = limiter.next_allowed(3)
    assert limiter.next_allowed(3) == first == 10
    assert limiter.next_allowed(first) == first


def test_burst_lets_n_dials_go_back_to_back_then_paces_them():
    limiter = RateLimiter(30, burst=5)
    times = dial_at_full_demand(limiter, 15)
    assert times == [0] * 5 + [10] * 5 + [20] * 5


def test_burst_at_the_limit_is_a_pure_sliding_window():
    times = dial_at_full_demand(RateLimiter(30, burst=30), 90)
    assert times == [0] * 30 + [60] * 30 + [120] * 30


def test_a_cut_holds_dialing_until_the_last_minute_fits_the_new_limit():
    limiter = RateLimiter(60)
    for t in range(30):
        limiter.record(t)
    limiter.set_rate(10)
    # the 10th most recent dial started at 20, so the next may start at 80 (pace alone: 35)
    assert limiter.next_allowed(29.5) == 80
    limiter.record(80)
    assert limiter.next_allowed(80) == 86


def test_a_raise_takes_effect_from_the_next_dial():
    limiter = RateLimiter(10)
    limiter.record(0)
    assert limiter.next_allowed(1) == 6
    limiter.set_rate(60)
    assert limiter.next_allowed(1) == 1


def test_a_raise_right_after_a_cut_still_counts_the_dials_of_the_last_minute():
    limiter = RateLimiter(100, burst=1000)  # a pure sliding window: only the limit rule
    assert dial_at_full_demand(limiter, 100) == [0] * 100
    limiter.set_rate(10)
    limiter.set_rate(100)
    assert limiter.next_allowed(1) == 60


def test_dial_times_do_not_go_backwards():
    limiter = RateLimiter(5000, burst=100)
    limiter.record(10)
    assert limiter.next_allowed(5) == 10
    with pytest.raises(ValueError, match="must not go backwards, got 9 after 10"):
        limiter.record(9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_minute": 0}, "per_minute: expected a positive number of dials per minute, got 0"),
        ({"per_minute": -3}, "got -3"),
        ({"per_minute": math.nan}, "got nan"),
        ({"per_minute": math.inf}, "got inf"),
        ({"per_minute": True}, "got True"),
        ({"per_minute": 30, "burst": 0}, "burst: expected a whole number of dials >= 1, got 0"),
        ({"per_minute": 30, "burst": 2.5}, "got 2.5"),
        ({"per_minute": 30, "window": 0}, "window: expected a positive number of seconds, got 0"),
    ],
)
def test_bad_settings_say_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        RateLimiter(**kwargs)


def test_set_rate_refuses_a_bad_rate_and_keeps_the_old_one():
    limiter = RateLimiter(30)
    with pytest.raises(ValueError):
        limiter.set_rate(0)
    assert limiter.per_minute == 30
    assert limiter.limit == 30


# -- properties -----------------------------------------------------------------------------------

RATES = st.one_of(
    st.floats(min_value=0.2, max_value=5000),
    st.sampled_from([0.2, 0.5, 1, 1.5, 7, 30, 45.5, 60, 600, 5000]),
)
BURSTS = st.one_of(st.just(1), st.integers(1, 64), st.just(10**6))
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.floats(min_value=0, max_value=300)),
        st.tuples(st.just("dial"), st.integers(1, 300)),
        st.tuples(st.just("rate"), st.lists(RATES, min_size=1, max_size=3)),
    ),
    max_size=12,
)


def _oracle(log: list[float], now: float, limit: int, window: float, burst: int, span: float):
    """The earliest start the rules allow, from the whole log rather than the limiter's memory."""
    at = max([now, *log[-1:]])
    if len(log) >= limit:
        at = max(at, log[-limit] + window)
    if len(log) >= burst:
        at = max(at, log[-burst] + span)
    return at


@settings(max_examples=300, deadline=None)
@given(
    rate=RATES,
    burst=BURSTS,
    start=st.floats(min_value=0, max_value=1e7),
    steps=STEPS,
    late=st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.001, 0.5, 7.0]), min_size=1),
)
def test_no_window_ever_holds_more_than_the_limit_in_force(rate, burst, start, steps, late):
    window = 60.0
    limiter = RateLimiter(rate, window=window, burst=burst)
    now = start
    log: list[float] = []  # every dial start
    rules: list[tuple[int, float]] = []  # (limit, pace span) in force at each dial
    for kind, value in steps:
        if kind == "wait":
            now += value
        elif kind == "rate":
            for per_minute in value:  # several in a row: a cut and a raise before the next dial
                limiter.set_rate(per_minute)
        else:
            for i in range(value):
                allowed = limiter.next_allowed(now)
                span = burst * max(60 / limiter.per_minute, window / limiter.limit)
                assert allowed >= now
                assert allowed == _oracle(log, now, limiter.limit, window, burst, span)
                # callers dial at the allowed time or somewhat later
                now = allowed + late[i % len(late)]
                assert limiter.next_allowed(now) == now
                limiter.record(now)
                log.append(now)
                rules.append((limiter.limit, span))

    assert log == sorted(log)
    ends = [t + window for t in log]
    for k, t in enumerate(log):
        limit, span = rules[k]
        # the dials in the window [s, s + 60) whose last dial is dial k: at most the limit then
        assert k + 1 - bisect_right(ends, t) <= limit
        # at most `burst` dials in any span of burst * interval ending at dial k
        if k >= burst:
            assert t >= log[k - burst] + span


@settings(max_examples=100, deadline=None)
@given(rate=RATES, start=st.floats(min_value=0, max_value=1e7))
def test_at_full_demand_the_limit_is_reached_and_kept(rate, start):
    limiter = RateLimiter(rate)
    limit = limiter.limit
    times = dial_at_full_demand(limiter, min(3 * limit + 1, 3000), now=start)
    assert most_in_any_window(times, 60) == min(limit, len(times))
    if rate >= 1 and len(times) > 2 * limit:
        # evenly paced: one window's worth of dials every 60 s, to within float rounding
        assert times[2 * limit] - times[limit] == pytest.approx(60, abs=1e-6)
