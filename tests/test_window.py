"""Calling windows: a dial only when the window is open in every one of the lead's timezones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dialer.schedule.window import (
    DAYS,
    CallingWindow,
    WindowCache,
    is_open,
    next_open,
    open_intervals,
    open_until,
)

NEW_YORK = ["America/New_York"]
EVERY_DAY = list(DAYS)
MICRO = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)

NORTH_AMERICA = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/St_Johns",
    "America/Halifax",
    "America/Havana",  # changes at local midnight
    "Pacific/Honolulu",
]
ZONES = NORTH_AMERICA + [
    "America/Sao_Paulo",
    "America/Santiago",  # changes at local midnight
    "America/Asuncion",
    "America/Nuuk",
    "Europe/London",
    "Europe/Dublin",  # "negative" DST in tzdata
    "Europe/Berlin",
    "Africa/Casablanca",  # suspends DST for Ramadan
    "Antarctica/Troll",  # two-hour DST change
    "Asia/Tehran",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Eucla",
    "Australia/Lord_Howe",  # half-hour DST change
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "UTC",
]
SPAN_START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_END = datetime(2028, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def rule(window: CallingWindow, zones: list[str], at: datetime) -> bool:
    """The regulation, written out plainly: in every zone, the right day and wall time."""
    if not zones:
        return False
    for name in zones:
        local = at.astimezone(ZoneInfo(name))
        if local.weekday() not in window.days or not window.start <= local.time() < window.end:
            return False
    return True


def checked(window: CallingWindow, zones: list[str], at: datetime) -> bool:
    """`rule`, after checking that `is_open` agrees at this instant (often an edge)."""
    expected = rule(window, zones, at)
    assert is_open(window, zones, at) == expected, at
    return expected


def _transitions() -> list[datetime]:
    """Every UTC offset change of ZONES in 2026-2027, to the second (daily scan, then bisect)."""
    found = set()
    for name in ZONES:
        tz = ZoneInfo(name)
        day = SPAN_START
        while day < SPAN_END:
            lo, hi = day, day + timedelta(days=1)
            if lo.astimezone(tz).utcoffset() != hi.astimezone(tz).utcoffset():
                while hi - lo > timedelta(seconds=1):
                    mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
                    same = mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset()
                    lo, hi = (mid, hi) if same else (lo, mid)
                found.add(hi)
            day += timedelta(days=1)
    return sorted(found)


TRANSITIONS = _transitions()


# --- strategies ---------------------------------------------------------------------------------

# Window edges are biased to the small hours, where DST changes happen.
minutes_of_day = st.one_of(
    st.integers(0, 1439),
    st.sampled_from([0, 30, 59, 60, 90, 120, 121, 150, 179, 180, 210, 1380, 1410, 1439]),
)


@st.composite
def windows(draw: st.DrawFn, minute_aligned: bool = False) -> CallingWindow:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    if minute_aligned or draw(st.booleans()):
        a, b = draw(minutes_of_day), draw(minutes_of_day)
        a, b = a * 60, b * 60
    else:
        a, b = draw(st.integers(0, 86399)), draw(st.integers(0, 86399))
    assume(a != b)
    a, b = sorted((a, b))
    return CallingWindow(
        days, time(a // 3600, a // 60 % 60, a % 60), time(b // 3600, b // 60 % 60, b % 60)
    )


zone_sets = st.one_of(
    st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(NORTH_AMERICA), min_size=1, max_size=3, unique=True),
)

# Instants anywhere in 2026-2027, or within a day and a half of an offset change.
near_transition = st.builds(
    lambda t, s: t + timedelta(seconds=s),
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 3600, 36 * 3600),
)
instants = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2027, 12, 31),
        timezones=st.just(UTC),
    ),
    near_transition,
    near_transition.map(lambda t: t.astimezone(ZoneInfo("Asia/Kolkata"))),  # non-UTC input
)

prop = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- properties ---------------------------------------------------------------------------------


@prop
@given(windows(), zone_sets, instants)
def test_is_open_is_the_local_time_rule_in_every_zone(window, zones, at):
    assert is_open(window, zones, at) == checked(window, zones, at)


@prop
@given(windows(), zone_sets, instants, st.integers(1, 15))
def test_next_open_is_the_earliest_open_instant(window, zones, at, horizon_days):
    horizon = timedelta(days=horizon_days)
    found = next_open(window, zones, at, horizon)
    intervals = open_intervals(window, zones, at, at + horizon)
    if found is None:
        assert intervals == []
        assert not checked(window, zones, at)
        return
    assert found.tzinfo is UTC
    assert at <= found < at + horizon
    assert checked(window, zones, found)
    assert found == at or not checked(window, zones, found - MICRO)
    assert intervals[0][0] == found


@prop
@given(windows(), zone_sets, instants, st.lists(st.floats(0, 1), min_size=10, max_size=10))
def test_open_until_ends_the_current_stretch(window, zones, at, fractions):
    until = open_until(window, zones, at)
    if not checked(window, zones, at):
        assert until is None
        return
    assert until is not None and until > at and until.tzinfo is UTC
    assert not checked(window, zones, until)
    assert checked(window, zones, until - MICRO)
    inside = [at + (until - at) * f for f in fractions]
    inside += [t for t in TRANSITIONS if at <= t < until]
    for t in inside:
        assert checked(window, zones, min(t, until - MICRO)), t
    assert open_intervals(window, zones, at, until) == [(at.astimezone(UTC), until)]


@prop
@given(
    windows(),
    zone_sets,
    instants,
    st.integers(1, 4 * 86400),
    st.lists(st.floats(0, 1, exclude_max=True), min_size=30, max_size=30),
)
def test_open_intervals_agree_with_is_open(window, zones, start, span_seconds, fractions):
    end = start + timedelta(seconds=span_seconds)
    intervals = open_intervals(window, zones, start, end)
    for i, (a, b) in enumerate(intervals):
        assert start <= a < b <= end
        assert i + 1 == len(intervals) or b < intervals[i + 1][0]  # sorted, apart
        assert checked(window, zones, a) and checked(window, zones, b - MICRO)
        assert a == start or not checked(window, zones, a - MICRO)
        assert b == end or not checked(window, zones, b)
    points = [start + (end - start) * f for f in fractions]
    points += [t + d for t in TRANSITIONS if start <= t < end for d in (-MICRO, 0 * MICRO, MINUTE)]
    for t in points:
        if start <= t < end:
            inside = any(a <= t < b for a, b in intervals)
            assert inside == checked(window, zones, t), t


@prop
@given(
    windows(),
    zone_sets,
    instants,
    st.lists(st.integers(-3 * 86400, 10 * 86400), min_size=20, max_size=20),
    st.sampled_from([0.0, 1e-7, 4e-7, 5e-7, 6e-7, 9e-7, 1.5e-6, 2.5e-6]),
)
def test_window_cache_answers_as_is_open_and_next_open(window, zones, at, seconds, nudge):
    # The queue asks at epoch seconds that are seldom whole microseconds, often next to an edge;
    # the cache answers from intervals and must agree with the datetime functions every time.
    cache = WindowCache(window)
    key = tuple(zones)
    base = at.astimezone(UTC)
    edges = [a for a, _ in open_intervals(window, zones, base, base + timedelta(days=10))]
    edges += [b for _, b in open_intervals(window, zones, base, base + timedelta(days=10))]
    probes = [base + timedelta(seconds=s) for s in seconds] + edges[:10]
    for probe in probes:
        for sign in (-1, 1):
            epoch = probe.timestamp() + sign * nudge
            when = datetime.fromtimestamp(epoch, UTC)  # what the queue's instant means
            assert cache.is_open(key, epoch) == is_open(window, zones, when), (when, epoch)
            expected = when if is_open(window, zones, when) else next_open(window, zones, when)
            first = cache.first_open(key, epoch)
            assert first == (None if expected is None else expected.timestamp()), (when, epoch)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    windows(minute_aligned=True),
    zone_sets,
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 60, 0),
    st.integers(0, 2 * 86400 - 1),
)
def test_minute_by_minute_around_a_dst_change(window, zones, transition, shift, probe):
    """Offsets, changes and edges all fall on whole minutes, so stepping by minute is exact."""
    start = transition.replace(second=0) + timedelta(minutes=shift)
    end = start + timedelta(days=2)
    minutes = [start + MINUTE * i for i in range(2 * 1440)]
    stepped: list[tuple[datetime, datetime]] = []
    for m in minutes:
        if checked(window, zones, m):
            if stepped and stepped[-1][1] == m:
                stepped[-1] = (stepped[-1][0], m + MINUTE)
            else:
                stepped.append((m, m + MINUTE))
    assert open_intervals(window, zones, start, end) == stepped
    at = start + timedelta(seconds=probe)
    later = [a for a, b in stepped if b > at]
    found = next_open(window, zones, at)
    if later:
        assert found == max(at, later[0])
    elif found is not None:
        assert found >= end


# --- examples -----------------------------------------------------------------------------------

NINE_TO_FIVE = CallingWindow.parse(EVERY_DAY, "09:00", "17:00")


def test_new_york_nine_to_five_around_spring_forward():
    # 2026-03-08 is a Sunday; at 02:00 EST the clocks jump to 03:00 EDT.
    assert open_intervals(NINE_TO_FIVE, NEW_YORK, utc(2026, 3, 7), utc(2026, 3, 10)) == [
        (utc(2026, 3, 7, 14), utc(2026, 3, 7, 22)),  # EST, UTC-5
        (utc(2026, 3, 8, 13), utc(2026, 3, 8, 21)),  # EDT, UTC-4
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),
    ]
    assert next_open(NINE_TO_FIVE, NEW_YORK, utc(2026, 3, 8, 5)) == utc(2026, 3, 8, 13)
    assert is_open(NINE_TO_FIVE, NEW_YORK, utc(2026, 3, 8, 13))  # 09:00 EDT: start is inclusive
    assert not is_open(NINE_TO_FIVE, NEW_YORK, utc(2026, 3, 8, 21))  # 17:00 EDT: end is not
    assert open_until(NINE_TO_FIVE, NEW_YORK, utc(2026, 3, 8, 20, 59)) == utc(2026, 3, 8, 21)


def test_new_york_nine_to_five_around_fall_back():
    # 2026-11-01 is a Sunday; at 02:00 EDT the clocks go back to 01:00 EST.
    assert open_intervals(NINE_TO_FIVE, NEW_YORK, utc(2026, 10, 31), utc(2026, 11, 3)) == [
        (utc(2026, 10, 31, 13), utc(2026, 10, 31, 21)),
        (utc(2026, 11, 1, 14), utc(2026, 11, 1, 22)),
        (utc(2026, 11, 2, 14), utc(2026, 11, 2, 22)),
    ]
    assert not is_open(NINE_TO_FIVE, NEW_YORK, utc(2026, 11, 1, 13, 30))  # 08:30 EST


def test_start_inside_the_spring_forward_gap_opens_after_the_gap():
    window = CallingWindow.parse(["sun"], "02:30", "05:00")
    # 01:00 EST on the gap day: the first real instant with wall time >= 02:30 is 03:00 EDT.
    assert next_open(window, NEW_YORK, utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 7)
    assert open_until(window, NEW_YORK, utc(2026, 3, 8, 7)) == utc(2026, 3, 8, 9)
    assert not is_open(window, NEW_YORK, utc(2026, 3, 8, 7) - MICRO)  # 01:59:59.999999 EST


def test_window_entirely_inside_the_gap_is_skipped_that_day():
    window = CallingWindow.parse(["sun"], "02:00", "02:30")
    assert open_intervals(window, NEW_YORK, utc(2026, 3, 8), utc(2026, 3, 9)) == []
    assert next_open(window, NEW_YORK, utc(2026, 3, 8)) == utc(2026, 3, 15, 6)  # 02:00 EDT


def test_repeated_hour_is_open_only_where_its_wall_time_is():
    # Window 01:30-05:00: 01:30-02:00 EDT, then 01:00-01:30 EST is closed, then open again.
    late = CallingWindow.parse(["sun"], "01:30", "05:00")
    assert open_intervals(late, NEW_YORK, utc(2026, 11, 1), utc(2026, 11, 2)) == [
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6)),
        (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 10)),
    ]
    # Window 00:00-01:30: open 00:00-01:30 EDT, and again 01:00-01:30 EST.
    early = CallingWindow.parse(["sun"], "00:00", "01:30")
    assert open_intervals(early, NEW_YORK, utc(2026, 11, 1), utc(2026, 11, 2)) == [
        (utc(2026, 11, 1, 4), utc(2026, 11, 1, 5, 30)),
        (utc(2026, 11, 1, 6), utc(2026, 11, 1, 6, 30)),
    ]
    assert open_until(early, NEW_YORK, utc(2026, 11, 1, 6)) == utc(2026, 11, 1, 6, 30)


def test_new_york_and_los_angeles_intersect_to_noon_to_five_eastern():
    zones = ["America/New_York", "America/Los_Angeles"]
    monday = utc(2026, 6, 15)
    assert open_intervals(NINE_TO_FIVE, zones, monday, monday + timedelta(days=1)) == [
        (utc(2026, 6, 15, 16), utc(2026, 6, 15, 21)),  # 12:00-17:00 EDT
    ]
    assert next_open(NINE_TO_FIVE, zones, utc(2026, 6, 15, 13)) == utc(2026, 6, 15, 16)
    assert open_until(NINE_TO_FIVE, zones, utc(2026, 6, 15, 16)) == utc(2026, 6, 15, 21)
    # Same answer whatever the order or repetition of zone names (they share a cache entry).
    reordered = ["America/Los_Angeles", "America/New_York", "America/Los_Angeles"]
    assert next_open(NINE_TO_FIVE, reordered, utc(2026, 6, 15, 13)) == utc(2026, 6, 15, 16)


def test_empty_intersection_never_opens():
    zones = ["America/New_York", "Asia/Tokyo"]
    morning = CallingWindow.parse(EVERY_DAY, "09:00", "12:00")
    assert next_open(morning, zones, utc(2026, 3, 1)) is None
    assert open_intervals(morning, zones, utc(2026, 1, 1), utc(2027, 1, 1)) == []


def test_stretch_across_utc_midnight_is_one_interval():
    window = CallingWindow.parse(EVERY_DAY, "09:00", "23:00")
    assert open_until(window, NEW_YORK, utc(2026, 6, 15, 22)) == utc(2026, 6, 16, 3)
    assert open_intervals(window, NEW_YORK, utc(2026, 6, 15, 12), utc(2026, 6, 16, 12)) == [
        (utc(2026, 6, 15, 13), utc(2026, 6, 16, 3)),
    ]


@pytest.mark.parametrize(
    "zones",
    [
        [],
        ["Mars/Olympus_Mons"],
        ["America/New_York", "Not/A_Zone"],
        [""],
        ["America"],
        ["../etc/passwd"],
        ["America/New_York/"],
        [None],
    ],
)
def test_unknown_or_missing_zone_is_closed(zones):
    always = CallingWindow.parse(EVERY_DAY, "00:00", "23:59")
    at = utc(2026, 6, 15, 12)
    assert not is_open(always, zones, at)
    assert next_open(always, zones, at) is None
    assert open_until(always, zones, at) is None
    assert open_intervals(always, zones, at, at + timedelta(days=3)) == []


def test_next_open_respects_the_horizon_and_returns_utc():
    weekly = CallingWindow.parse(["mon"], "09:00", "10:00")
    friday = datetime(2026, 6, 12, 12, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert next_open(weekly, NEW_YORK, friday, horizon=timedelta(days=2)) is None
    found = next_open(weekly, NEW_YORK, friday)
    assert found == utc(2026, 6, 15, 13) and found.tzinfo is UTC


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(NINE_TO_FIVE, NEW_YORK, datetime(2026, 6, 15, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(NINE_TO_FIVE, NEW_YORK, datetime(2026, 6, 15, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(NINE_TO_FIVE, ["Not/A_Zone"], datetime(2026, 6, 15, 12))


# --- the window itself --------------------------------------------------------------------------


def test_parse():
    window = CallingWindow.parse(["mon", "Fri ", "mon"], "08:30", "21:00")
    assert window == CallingWindow(frozenset({0, 4}), time(8, 30), time(21))


@pytest.mark.parametrize(
    ("days", "start", "end", "message"),
    [
        (["mon"], "9am", "17:00", 'start: expected HH:MM between 00:00 and 23:59, got "9am"'),
        (["mon"], "09:00", "24:00", 'end: expected HH:MM between 00:00 and 23:59, got "24:00"'),
        (["monday"], "09:00", "17:00", 'did you mean "mon"'),
        (["xyz"], "09:00", "17:00", "days: expected one of mon, tue"),
        ("mon", "09:00", "17:00", "expected a list of day names"),
        ([], "09:00", "17:00", "expected at least one day"),
        (["mon"], "22:00", "06:00", "overnight windows are not supported"),
        (["mon"], "09:00", "09:00", "end: expected a time after start 09:00, got 09:00"),
    ],
)
def test_parse_errors_say_what_was_expected_and_found(days, start, end, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        CallingWindow.parse(days, start, end)


def test_constructor_validates():
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6"):
        CallingWindow(frozenset({7}), time(9), time(17))
    with pytest.raises(ValueError, match="without tzinfo"):
        CallingWindow(frozenset({0}), time(9, tzinfo=UTC), time(17))


def test_quiet_hours_narrow_a_campaign_window():
    campaign = CallingWindow.parse(EVERY_DAY, "08:00", "21:00")
    quiet = CallingWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat"], "09:00", "20:00")
    assert campaign.intersect(quiet) == CallingWindow(frozenset(range(6)), time(9), time(20))
    assert quiet.intersect(campaign) == campaign.intersect(quiet)
    late = CallingWindow.parse(["mon"], "20:00", "22:00")
    assert late.intersect(CallingWindow.parse(["mon"], "09:00", "20:00")) is None  # touching
    assert late.intersect(CallingWindow.parse(["tue"], "20:00", "22:00")) is None  # no common day
