"""When a lead may be dialled: a calling window read in every one of the lead's timezones.

A dial at instant `t` is allowed when, in each zone, `t.astimezone(zone)` falls on one of the
window's days and its wall time is in `[start, end)`. That single rule settles DST: a start inside
a spring-forward gap opens at the first real instant after the gap, and the repeated hour of a
fall-back day is open exactly when its wall time is. A number that maps to several zones gets the
intersection; no zones or an unknown zone name means never open (fail closed).

Nothing here reads the clock: callers pass aware datetimes, and returned ones are UTC.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[datetime, datetime]

_ONE_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_MICRO = timedelta(microseconds=1)
# Offset changes are found by probing this often, then bisecting to the second. Real zones change
# offset weeks apart, so an out-and-back change between two probes does not occur.
_PROBE = timedelta(hours=3)
# open_until stops looking after this; real stretches end within a day or two.
_MAX_STRETCH = timedelta(days=15)
_HHMM = re.compile(r"(\d{2}):(\d{2})")
_NEAR = 2e-6  # seconds: beyond this from an edge, rounding an epoch to the microsecond is moot


@dataclass(frozen=True)
class CallingWindow:
    """Days of the week (0 = Monday) and a wall-clock span `[start, end)` within one day."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        days = frozenset(self.days)
        bad = sorted(d for d in days if type(d) is not int or not 0 <= d <= 6)
        if bad:
            raise ValueError(f"days: expected integers 0 (Monday) to 6 (Sunday), got {bad}")
        if not days:
            raise ValueError("days: expected at least one day, got none")
        object.__setattr__(self, "days", days)
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(
                    f"{name}: expected a wall-clock time without tzinfo, got {value!r}"
                )
        if self.end <= self.start:
            raise ValueError(
                f"end: expected a time after start {self.start.isoformat('minutes')}, got "
                f"{self.end.isoformat('minutes')} (overnight windows are not supported)"
            )

    @classmethod
    def parse(cls, days: Iterable[str], start: str, end: str) -> CallingWindow:
        """Build a window from day names (`"mon"`…`"sun"`) and `"HH:MM"` times."""
        if isinstance(days, str):
            raise ValueError(f'days: expected a list of day names, got the string "{days}"')
        numbers = set()
        for name in days:
            key = name.strip().lower() if isinstance(name, str) else name
            if key not in DAYS:
                close = difflib.get_close_matches(str(key), DAYS, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                raise ValueError(f'days: expected one of {", ".join(DAYS)}, got "{name}"{hint}')
            numbers.add(DAYS.index(key))
        return cls(frozenset(numbers), _parse_time("start", start), _parse_time("end", end))

    def intersect(self, other: CallingWindow) -> CallingWindow | None:
        """The window open when both are (same zone), e.g. a campaign inside quiet hours."""
        days = self.days & other.days
        start, end = max(self.start, other.start), min(self.end, other.end)
        if not days or start >= end:
            return None
        return CallingWindow(days, start, end)


def _parse_time(field: str, text: str) -> time:
    match = _HHMM.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'{field}: expected HH:MM between 00:00 and 23:59, got "{text}"')
    return time(int(match[1]), int(match[2]))


def is_open(window: CallingWindow, zones: Sequence[str], at: datetime) -> bool:
    """Whether a dial at `at` is inside `window` in every one of `zones`."""
    _check_aware(at)
    resolved = _zones(zones)
    if resolved is None:
        return False
    days, start, end = window.days, window.start, window.end
    for tz in resolved[1]:
        local = at.astimezone(tz)
        if local.weekday() not in days or not start <= local.time() < end:
            return False
    return True


def next_open(
    window: CallingWindow,
    zones: Sequence[str],
    at: datetime,
    horizon: timedelta = timedelta(days=15),
) -> datetime | None:
    """The earliest instant in `[at, at + horizon)` when `is_open` holds, or None."""
    resolved = _zones(zones)
    if resolved is None:
        return None
    at = _utc(at)
    limit = at + horizon
    days = _plan(window, resolved[0])
    for day in range(at.toordinal(), limit.toordinal() + 1):
        for a, b in days[day]:
            if b > at:
                first = max(a, at)
                return first if first < limit else None
    return None


def open_until(window: CallingWindow, zones: Sequence[str], at: datetime) -> datetime | None:
    """When `at` is open: the first instant after it that is closed. Otherwise None."""
    resolved = _zones(zones)
    if resolved is None:
        return None
    at = _utc(at)
    days = _plan(window, resolved[0])
    first = at.toordinal()
    end = next((b for a, b in days[first] if a <= at < b), None)
    # A stretch may run past UTC midnight; day caches split it there, so join the pieces.
    for day in range(first + 1, first + 1 + _MAX_STRETCH.days):
        if end is None or end != _day_start(day) or not days[day] or days[day][0][0] != end:
            break
        end = days[day][0][1]
    return end


def open_intervals(
    window: CallingWindow, zones: Sequence[str], start: datetime, end: datetime
) -> list[Interval]:
    """Sorted, disjoint, non-touching UTC `[a, b)` intervals in `[start, end)` that are open."""
    resolved = _zones(zones)
    if resolved is None:
        return []
    return list(_iter_open(window, resolved[0], _utc(start), _utc(end)))


class WindowCache:
    """`is_open` and the first open instant for one window, asked at many instants of a run.

    A run asks about a few zone sets, at instants that mostly move forward, once or twice per
    dial. For each zone set it keeps the open intervals of the days ahead (`open_intervals`, eight
    days from the first instant asked) and answers from them by bisection while the instants fall
    inside; an instant outside starts a new stretch of days. Instants are epoch seconds, rounded to
    the microsecond as `datetime.fromtimestamp` does, so every answer is exactly what `is_open`
    and `next_open` give for that datetime.
    """

    SPAN = 8 * 86400.0  # seconds of intervals worked out at a time

    def __init__(self, window: CallingWindow) -> None:
        self.window = window
        # zones -> (from, to, starts, ends): the open intervals [starts[i], ends[i]) in [from, to)
        self._known: dict[tuple[str, ...], tuple[float, float, list[float], list[float]]] = {}

    def is_open(self, zones: tuple[str, ...], at: float) -> bool:
        """Whether a dial at epoch second `at` is inside the window in every zone."""
        known = self._known.get(zones)
        if known is not None and known[0] + _NEAR <= at < known[1] - _NEAR:
            # more than a microsecond from every edge: rounding `at` can not change the answer
            starts, ends = known[2], known[3]
            i = bisect.bisect_right(starts, at) - 1
            if i >= 0 and starts[i] + _NEAR <= at < ends[i] - _NEAR:
                return True
            if (i < 0 or at >= ends[i] + _NEAR) and (
                i + 1 == len(starts) or at < starts[i + 1] - _NEAR
            ):
                return False
        t = datetime.fromtimestamp(at, UTC).timestamp()
        _, _, starts, ends = self._intervals(zones, t)
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < ends[i]

    def first_open(self, zones: tuple[str, ...], at: float) -> float | None:
        """`at` (to the microsecond) when open, else `next_open` of it; None when that is None."""
        t = datetime.fromtimestamp(at, UTC).timestamp()
        lo, hi, starts, ends = self._intervals(zones, t)
        i = bisect.bisect_right(starts, t) - 1
        if i >= 0 and t < ends[i]:
            return t
        if i + 1 < len(starts):
            return starts[i + 1]
        # nothing opens before `hi`: ask the exact function, whose horizon is longer
        when = next_open(self.window, zones, datetime.fromtimestamp(t, UTC))
        return None if when is None else when.timestamp()

    def _intervals(
        self, zones: tuple[str, ...], t: float
    ) -> tuple[float, float, list[float], list[float]]:
        known = self._known.get(zones)
        if known is not None and known[0] <= t < known[1]:
            return known
        start = datetime.fromtimestamp(t, UTC)
        end = start + timedelta(seconds=self.SPAN)
        intervals = open_intervals(self.window, zones, start, end)
        known = (
            t,
            end.timestamp(),
            [a.timestamp() for a, _ in intervals],
            [b.timestamp() for _, b in intervals],
        )
        if len(self._known) >= 4096:
            self._known.clear()  # bound memory: a run has few zone sets, this is a safety net
        self._known[zones] = known
        return known


# --- zones --------------------------------------------------------------------------------------


def _zones(zones: Sequence[str]) -> tuple[tuple[str, ...], tuple[tzinfo, ...]] | None:
    names = (zones,) if isinstance(zones, str) else tuple(zones)
    try:
        return _resolve(names)
    except TypeError:  # unhashable junk in the list: not a zone name, so closed
        return None


@lru_cache(maxsize=4096)
def _resolve(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tzinfo, ...]] | None:
    """Sorted unique names (the cache key) and their zones; None when empty or any is unknown."""
    if not names or not all(isinstance(n, str) for n in names):
        return None
    canonical = tuple(sorted(set(names)))
    zones = []
    for name in canonical:
        try:
            zones.append(ZoneInfo(name))
        except Exception:  # not found, a directory, a path, bad TZif: unknown means closed
            return None
    return canonical, tuple(zones)


def _check_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at.isoformat()}")


def _utc(at: datetime) -> datetime:
    _check_aware(at)
    return at.astimezone(UTC)


# --- open intervals, one UTC day at a time ------------------------------------------------------


def _day_start(day: int) -> datetime:
    return datetime.combine(date.fromordinal(day), time(), UTC)


class _Days(dict):
    """UTC day ordinal -> that day's open intervals, for one window and zone set; fills lazily."""

    def __init__(self, window: CallingWindow, names: tuple[str, ...]) -> None:
        self.window, self.zones = window, _resolve(names)[1]  # type: ignore[index]

    def __missing__(self, day: int) -> tuple[Interval, ...]:
        if len(self) >= 400:  # about a year of days: bound memory for long-lived processes
            self.clear()
        lo = _day_start(day)
        hi = lo + _ONE_DAY
        result: list[Interval] | None = None
        for tz in self.zones:
            intervals = _zone_open(self.window, tz, lo, hi)
            result = intervals if result is None else _intersect(result, intervals)
            if not result:
                break
        self[day] = found = tuple(_merge(result or []))
        return found


@lru_cache(maxsize=1024)
def _plan(window: CallingWindow, names: tuple[str, ...]) -> _Days:
    """The day cache of one (window, canonical zone names) pair."""
    return _Days(window, names)


def _zone_open(window: CallingWindow, tz: tzinfo, lo: datetime, hi: datetime) -> list[Interval]:
    # Between offset changes, wall time is UTC plus a constant, so each local day's [start, end)
    # maps to one UTC interval; clipping it to the segment handles gaps and repeated hours.
    out = []
    for a, b, offset in _segments(tz, lo, hi):
        day, last = (a + offset).date(), (b - _MICRO + offset).date()
        while day <= last:
            if day.weekday() in window.days:
                s = max(a, datetime.combine(day, window.start, UTC) - offset)
                e = min(b, datetime.combine(day, window.end, UTC) - offset)
                if s < e:
                    out.append((s, e))
            day += _ONE_DAY
    return out


def _segments(
    tz: tzinfo, lo: datetime, hi: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """Split `[lo, hi)` (whole UTC seconds) where the zone's UTC offset changes."""
    while lo < hi:
        offset = _offset(tz, lo)
        good, bad = lo, None
        while good < hi - _SECOND:
            probe = min(good + _PROBE, hi - _SECOND)
            if _offset(tz, probe) != offset:
                bad = probe
                break
            good = probe
        if bad is None:
            yield lo, hi, offset
            return
        while bad - good > _SECOND:  # offsets change on whole seconds
            mid = good + timedelta(seconds=int((bad - good).total_seconds()) // 2)
            if _offset(tz, mid) == offset:
                good = mid
            else:
                bad = mid
        yield lo, bad, offset
        lo = bad


def _offset(tz: tzinfo, at: datetime) -> timedelta:
    return at.astimezone(tz).utcoffset()  # type: ignore[return-value]


def _intersect(xs: list[Interval], ys: list[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def _merge(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in intervals:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _iter_open(
    window: CallingWindow, names: tuple[str, ...], lo: datetime, hi: datetime
) -> Iterator[Interval]:
    """Open intervals clipped to `[lo, hi)`, joined across UTC day boundaries."""
    pending: Interval | None = None
    days = _plan(window, names)
    for day in range(lo.toordinal(), hi.toordinal() + 1):
        for a, b in days[day]:
            a, b = max(a, lo), min(b, hi)
            if a >= b:
                continue
            if pending is not None and a == pending[1]:
                pending = (pending[0], b)
                continue
            if pending is not None:
                yield pending
            pending = (a, b)
    if pending is not None:
        yield pending
