"""Business calendars: weekly shifts in a timezone minus holidays and closures, walked interval by interval."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from listener.domain import require_utc

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = timedelta(days=1)
_ZERO = timedelta(0)
# A calendar that stays closed this long is a configuration mistake, not a long weekend.
SEARCH_LIMIT_DAYS = 3660
# Per-day interval cache bound: ~50 years of days; cleared wholesale when exceeded.
_CACHE_LIMIT = 20_000
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    """The calendar definition or a query against it is invalid."""


class ClosedPeriodResponse(StrEnum):
    """How to count a response when the message arrives and is answered inside one closed period.

    Example: 09:00-17:00 calendar, a message at Saturday 10:00 answered at Saturday 11:00.
    ZERO: pure business time, the response took 0 (nothing of the calendar elapsed).
    WALL: the response took its wall-clock time, 1 h (Orlo's rule: someone answered off hours,
    so the customer's real wait counts).
    Any response that spans open time is always counted in business time.
    """

    ZERO = "zero"
    WALL = "wall"


@dataclass(frozen=True, slots=True)
class Shift:
    """One weekly opening: `weekday` (0 = Monday) from local `start` for `length` of wall time.

    A shift whose length runs past midnight (22:00-06:00) belongs to the day it starts on.
    """

    weekday: int
    start: time
    length: timedelta

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise CalendarError(f"weekday must be 0 (Mon) to 6 (Sun), got {self.weekday}")
        if self.start.tzinfo is not None:
            raise CalendarError("shift start is a local wall time; it must not carry a tzinfo")
        if not _ZERO < self.length <= _DAY:
            raise CalendarError(f"shift length must be more than 0 and at most 24h, got {self.length}")

    @property
    def overnight(self) -> bool:
        """True when the shift ends after midnight, on the next day."""
        start = timedelta(hours=self.start.hour, minutes=self.start.minute, seconds=self.start.second)
        return start + self.length > _DAY

    def label(self) -> str:
        """The shift as written in config: "09:00-17:00", "22:00-06:00", "00:00-24:00"."""
        begin = datetime.combine(date(2000, 1, 3), self.start)
        end = begin + self.length
        end_text = "24:00" if end.time() == time(0) and end.date() > begin.date() else end.strftime("%H:%M")
        return f"{begin:%H:%M}-{end_text}"


def parse_span(text: str) -> tuple[time, timedelta]:
    """Parse "09:00-17:00" (or overnight "22:00-06:00", or "00:00-24:00") into (start, length)."""
    match = _SPAN.match(text)
    if not match:
        raise CalendarError(f'invalid shift {text!r}: write it like "09:00-17:00"')
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em != 0):
        raise CalendarError(f"invalid shift {text!r}: hours run 00-23 (24:00 only as an end), minutes 00-59")
    start = timedelta(hours=sh, minutes=sm)
    end = timedelta(hours=eh, minutes=em)
    if end == start:
        raise CalendarError(f"invalid shift {text!r}: start equals end (write 00:00-24:00 for a whole day)")
    length = end - start if end > start else end + _DAY - start
    return time(sh, sm), length


def parse_days(text: str) -> list[int]:
    """Parse "mon-fri", "sat,sun", "fri-mon" (wraps) or "daily" into weekday numbers (0 = Monday)."""
    key = text.strip().lower()
    if key in ("daily", "all", "every day", "mon-sun"):
        return list(range(7))
    days: list[int] = []
    for part in key.split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            a, b = _day_index(first, text), _day_index(last, text)
            span = (b - a) % 7
            days.extend((a + i) % 7 for i in range(span + 1))
        else:
            days.append(_day_index(part, text))
    return sorted(set(days))


def _day_index(name: str, whole: str) -> int:
    name = name.strip()[:3]
    if name not in _DAY_NAMES:
        raise CalendarError(f"invalid day {whole!r}: use mon, tue, wed, thu, fri, sat, sun, ranges like mon-fri")
    return _DAY_NAMES.index(name)


def parse_hours(spec: Mapping[str, str | Sequence[str]]) -> tuple[Shift, ...]:
    """Turn {"mon-fri": ["09:00-12:00", "13:00-17:00"], "sat": "10:00-14:00"} into shifts."""
    shifts: list[Shift] = []
    for days, spans in spec.items():
        for span in [spans] if isinstance(spans, str) else spans:
            start, length = parse_span(span)
            shifts.extend(Shift(day, start, length) for day in parse_days(days))
    return tuple(sorted(set(shifts), key=lambda s: (s.weekday, s.start, s.length)))


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """A timed closure [start, end) in aware UTC, e.g. a timed VEVENT from an iCal file."""

    start: datetime
    end: datetime
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_utc(self.start, "closed period start"))
        object.__setattr__(self, "end", require_utc(self.end, "closed period end"))
        if self.end <= self.start:
            raise CalendarError(f"closed period {self.name!r} ends before it starts")


@dataclass(frozen=True, slots=True)
class ResponseTime:
    """A measured response: business time (after the closed-period rule) and wall-clock time."""

    business: timedelta
    wall: timedelta
    inside_closed_period: bool


class BusinessCalendar:
    """Open hours of a team: weekly shifts in an IANA timezone minus holidays and closures.

    With no shifts the calendar is open around the clock (24/7), still minus any closures.
    A closed date (holiday, extra date, all-day iCal event) closes its whole local day,
    00:00-24:00, including the after-midnight part of an overnight shift from the day before.
    Every instant in and out is an aware datetime; results are UTC.
    """

    def __init__(
        self,
        *,
        name: str = "24/7",
        timezone: str | tzinfo = "UTC",
        shifts: Iterable[Shift] = (),
        holiday_country: str | None = None,
        holiday_subdiv: str | None = None,
        closed_dates: Mapping[date, str] | Iterable[date] = (),
        closed_periods: Iterable[ClosedPeriod] = (),
        closed_period_response: ClosedPeriodResponse = ClosedPeriodResponse.ZERO,
    ) -> None:
        self.name = name
        self.tz = _zone(timezone)
        self.shifts = tuple(shifts)
        self.closed_period_response = ClosedPeriodResponse(closed_period_response)
        self.holiday_country = holiday_country
        self.holiday_subdiv = holiday_subdiv
        self._holidays = _holiday_table(holiday_country, holiday_subdiv)
        if isinstance(closed_dates, Mapping):
            self._closed_dates = {d: str(n) for d, n in closed_dates.items()}
        else:
            self._closed_dates = {d: "closed" for d in closed_dates}
        self._periods = _merge_periods(closed_periods)
        self._period_starts = [p.start for p in self._periods]
        self._by_weekday: tuple[tuple[Shift, ...], ...] = tuple(
            tuple(s for s in self.shifts if s.weekday == day) for day in range(7)
        )
        self._always_open = not self.shifts
        self._trivial = self._always_open and self._holidays is None and not self._closed_dates and not self._periods
        self._days: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._closed_cache: dict[date, str | None] = {}
        self._description = self._describe()

    # -- description ------------------------------------------------------------------

    @property
    def is_24_7(self) -> bool:
        """True when the calendar has no shifts, holidays or closures: business time is wall time."""
        return self._trivial

    def describe(self) -> str:
        """Short human form: "Mon-Fri 09:00-12:00, 13:00-17:00 Europe/Berlin, holidays DE-BE"."""
        return self._description

    def _describe(self) -> str:
        hours = "24/7" if self._always_open else _describe_shifts(self._by_weekday)
        parts = [f"{hours} {self.tz}"]
        if self.holiday_country:
            region = f"{self.holiday_country}-{self.holiday_subdiv}" if self.holiday_subdiv else self.holiday_country
            parts.append(f"holidays {region}")
        extra = len(self._closed_dates) + len(self._periods)
        if extra:
            parts.append(f"{extra} closure{'s' if extra != 1 else ''}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}: {self.describe()})"

    # -- queries ----------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether `at` falls inside open business time."""
        at = require_utc(at, "at")
        if self._trivial:
            return True
        return any(start <= at < end for start, end in self._day(self._local_date(at)))

    def next_open(self, at: datetime) -> datetime:
        """The first open instant at or after `at` (`at` itself when open)."""
        at = require_utc(at, "at")
        if self._trivial:
            return at
        for start, _ in self._intervals_from(at):
            return max(start, at)
        raise AssertionError("unreachable: _intervals_from raises when nothing opens")  # pragma: no cover

    def open_until(self, at: datetime, limit: timedelta = timedelta(days=366)) -> datetime | None:
        """When the open stretch containing `at` closes (None when `at` is closed); capped at `at + limit`."""
        at = require_utc(at, "at")
        if not self.is_open(at):
            return None
        if self._trivial:
            return at + limit
        end = at
        for begin, stop in self._intervals_from(at, until=at + limit):
            if begin > end:
                break  # a gap: the stretch ended at `end`
            end = stop
        return min(end, at + limit)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of business time has elapsed after `start` (UTC).

        A zero duration returns `start`. A target that runs out exactly at closing time
        returns the closing instant, not the next opening.
        """
        start = require_utc(start, "start")
        if duration < _ZERO:
            raise CalendarError(f"duration must not be negative, got {duration}")
        if duration == _ZERO or self._trivial:
            return start + duration
        remaining = duration
        for begin, end in self._intervals_from(start):
            span = end - begin
            if remaining <= span:
                return begin + remaining
            remaining -= span
        raise AssertionError("unreachable")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when `end` is not after `start`."""
        start = require_utc(start, "start")
        end = require_utc(end, "end")
        if end <= start:
            return _ZERO
        if self._trivial:
            return end - start
        total = _ZERO
        for begin, stop in self._intervals_from(start, until=end):
            if begin >= end:
                break
            total += min(stop, end) - begin
        return total

    def response_time(self, start: datetime, end: datetime) -> ResponseTime:
        """Measure a response from `start` (message) to `end` (reply) under this calendar's rule."""
        start = require_utc(start, "start")
        end = require_utc(end, "end")
        wall = max(end - start, _ZERO)
        business = self.elapsed(start, end)
        inside = wall > _ZERO and business == _ZERO
        if inside and self.closed_period_response is ClosedPeriodResponse.WALL:
            business = wall
        return ResponseTime(business=business, wall=wall, inside_closed_period=inside)

    def closures_between(self, start: datetime, end: datetime) -> list[tuple[date, str]]:
        """Closed local dates and timed closures touching [start, end], with names (for explanations).

        A closed date on which no shift would have run anyway (a holiday on a Sunday) is left out.
        """
        start = require_utc(start, "start")
        end = require_utc(end, "end")
        found: list[tuple[date, str]] = []
        day, last = self._local_date(start), self._local_date(end)
        while day <= last and len(found) < 100:
            reason = self._closed_reason(day)
            if reason and self._would_work(day):
                found.append((day, reason))
            day += _DAY
        lo = bisect.bisect_left(self._period_starts, start) - 1
        for period in self._periods[max(lo, 0) :]:
            if period.start >= end:
                break
            if period.end > start:
                found.append((period.start.astimezone(self.tz).date(), period.name or "closed"))
        return found

    def local(self, at: datetime) -> datetime:
        """`at` in the calendar's timezone (for display)."""
        return require_utc(at, "at").astimezone(self.tz)

    # -- internals --------------------------------------------------------------------

    def _would_work(self, day: date) -> bool:
        """Whether some shift covers part of `day` on an ordinary week."""
        if self._always_open or self._by_weekday[day.weekday()]:
            return True
        return any(s.overnight for s in self._by_weekday[(day.weekday() - 1) % 7])

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def _intervals_from(self, at: datetime, until: datetime | None = None) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in time order, the first one clipped to start at `at`."""
        day = self._local_date(at)
        last_day = self._local_date(until) if until is not None else None
        empty_days = 0
        while True:
            intervals = self._day(day)
            for begin, end in intervals:
                if end <= at:
                    continue
                yield max(begin, at), end
            if last_day is not None and day >= last_day:
                return
            empty_days = 0 if intervals else empty_days + 1
            if empty_days > SEARCH_LIMIT_DAYS:
                raise CalendarError(
                    f"calendar {self.name!r} has no open time in {SEARCH_LIMIT_DAYS} days after {at.isoformat()}"
                )
            day += _DAY

    def _utc(self, day: date, at: time, plus: timedelta = _ZERO) -> datetime:
        """The first instant whose local wall time is `day at + plus` or later.

        Wall-clock arithmetic first, then the zone: a shift is "09:00 to 17:00 on the wall".
        A repeated wall time (autumn) maps to its first occurrence. A wall time skipped by a
        spring-forward gap maps to the transition itself, when the wall clock passes it.
        """
        wall = datetime.combine(day, at) + plus
        utc = wall.replace(tzinfo=self.tz).astimezone(UTC)
        if utc.astimezone(self.tz).replace(tzinfo=None) == wall:
            return utc
        # In a gap: fold=0 used the offset from before the jump (too late), fold=1 the one
        # from after (too early); the transition lies between, find it to the second.
        low = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        high = utc
        if low > high:  # pragma: no cover - defensive for zones with odd fold semantics
            low, high = high, low
        while high - low > timedelta(seconds=1):
            middle = low + (high - low) / 2
            middle = middle.replace(microsecond=0)
            if middle.astimezone(self.tz).replace(tzinfo=None) >= wall:
                high = middle
            else:
                low = middle
        return high

    def _day(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """Open UTC intervals of one local date (sorted, disjoint), cached."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
            self._closed_cache.clear()
        day_start, day_end = self._utc(day, time(0)), self._utc(day, time(0), _DAY)
        raw: list[tuple[datetime, datetime]] = []
        if self._closed_reason(day) is None:
            if self._always_open:
                raw.append((day_start, day_end))
            else:
                for shift in self._by_weekday[day.weekday()]:
                    raw.append((self._utc(day, shift.start), min(self._utc(day, shift.start, shift.length), day_end)))
                previous = day - _DAY
                for shift in self._by_weekday[previous.weekday()]:
                    if shift.overnight:
                        raw.append((day_start, self._utc(previous, shift.start, shift.length)))
        result = tuple(self._subtract_periods(_merge(raw), day_start, day_end))
        self._days[day] = result
        return result

    def _closed_reason(self, day: date) -> str | None:
        if day in self._closed_cache:
            return self._closed_cache[day]
        reason = self._closed_dates.get(day)
        if reason is None and self._holidays is not None:
            reason = self._holidays.get(day)
        self._closed_cache[day] = reason
        return reason

    def _subtract_periods(
        self, intervals: list[tuple[datetime, datetime]], day_start: datetime, day_end: datetime
    ) -> Iterator[tuple[datetime, datetime]]:
        if not self._periods or not intervals:
            yield from intervals
            return
        # Periods are merged and sorted, so those touching this day are a contiguous run.
        lo = max(bisect.bisect_left(self._period_starts, day_start) - 1, 0)
        hi = bisect.bisect_left(self._period_starts, day_end)
        periods = [p for p in self._periods[lo:hi] if p.end > day_start]
        for begin, end in intervals:
            for period in periods:
                if period.end <= begin or period.start >= end:
                    continue
                if period.start > begin:
                    yield begin, period.start
                begin = max(begin, period.end)
                if begin >= end:
                    break
            if begin < end:
                yield begin, end


def _zone(value: str | tzinfo) -> tzinfo:
    if not isinstance(value, str):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f'unknown timezone {value!r}: use an IANA name like "Europe/Berlin"') from exc


def _holiday_table(country: str | None, subdiv: str | None) -> Any:
    if not country:
        if subdiv:
            raise CalendarError("a holiday subdivision needs a holiday country")
        return None
    import holidays  # imported lazily: the package is large and only needed with holidays set

    try:
        return holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as exc:
        raise CalendarError(f"holidays: {exc}") from exc


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in sorted(intervals):
        if end <= begin:
            continue  # a shift swallowed by a DST gap
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _merge_periods(periods: Iterable[ClosedPeriod]) -> list[ClosedPeriod]:
    merged: list[ClosedPeriod] = []
    for period in sorted(periods, key=lambda p: (p.start, p.end)):
        if merged and period.start <= merged[-1].end:
            last = merged[-1]
            name = last.name if period.name in ("", last.name) else f"{last.name}; {period.name}"
            merged[-1] = ClosedPeriod(last.start, max(last.end, period.end), name)
        else:
            merged.append(period)
    return merged


def _describe_shifts(by_weekday: Sequence[Sequence[Shift]]) -> str:
    labels = [", ".join(s.label() for s in shifts) for shifts in by_weekday]
    groups: list[tuple[int, int, str]] = []
    for day, label in enumerate(labels):
        if groups and groups[-1][2] == label and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, label)
        else:
            groups.append((day, day, label))
    parts = []
    for first, last, label in groups:
        if not label:
            continue
        days = _DAY_NAMES[first].title()
        if last != first:
            days += f"-{_DAY_NAMES[last].title()}"
        parts.append(f"{days} {label}")
    return "; ".join(parts) if parts else "never open"
