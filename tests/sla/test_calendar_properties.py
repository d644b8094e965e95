"""Property tests: add and elapsed are inverse, monotonic, additive, and agree with a wall-clock oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from listener.sla.calendar import BusinessCalendar, ClosedPeriod, Shift, parse_hours

_CLOSURE = ClosedPeriod(datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 3, 15, tzinfo=UTC), "offsite")

CALENDARS = {
    "london-office": BusinessCalendar(
        name="london-office",
        timezone="Europe/London",
        shifts=parse_hours({"mon-fri": "09:00-17:00"}),
        holiday_country="GB",
        holiday_subdiv="ENG",
    ),
    "new-york-split": BusinessCalendar(
        name="new-york-split",
        timezone="America/New_York",
        shifts=parse_hours({"mon-fri": ["08:00-12:00", "13:00-18:30"], "sat": "10:00-14:00"}),
        holiday_country="US",
    ),
    "berlin-night": BusinessCalendar(
        name="berlin-night",
        timezone="Europe/Berlin",
        shifts=parse_hours({"mon-thu": "22:00-06:00", "fri": "18:00-24:00", "sun": "00:00-04:00"}),
        closed_dates=[date(2026, 12, 24), date(2027, 1, 1)],
        closed_periods=[_CLOSURE],
    ),
    "sydney-24-7-with-closures": BusinessCalendar(
        name="sydney",
        timezone="Australia/Sydney",
        holiday_country="AU",
        holiday_subdiv="NSW",
        closed_periods=[_CLOSURE],
    ),
    "plain-24-7": BusinessCalendar(),
}

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=120))
calendars = st.sampled_from(sorted(CALENDARS))


@settings(max_examples=150, deadline=None)
@given(name=calendars, start=instants, duration=durations)
def test_elapsed_inverts_add(name: str, start: datetime, duration: timedelta) -> None:
    cal = CALENDARS[name]
    due = cal.add(start, duration)
    assert due >= start
    assert cal.elapsed(start, due) == duration
    if duration > timedelta(0):
        # The deadline is reached while open: the instant just before it was business time.
        assert cal.is_open(due - timedelta(microseconds=1))


@settings(max_examples=150, deadline=None)
@given(name=calendars, start=instants, a=durations, b=durations)
def test_add_is_monotonic_in_duration(name: str, start: datetime, a: timedelta, b: timedelta) -> None:
    cal = CALENDARS[name]
    low, high = sorted((a, b))
    assert cal.add(start, low) <= cal.add(start, high)


@settings(max_examples=150, deadline=None)
@given(name=calendars, a=instants, b=instants, duration=durations)
def test_add_is_monotonic_in_start(name: str, a: datetime, b: datetime, duration: timedelta) -> None:
    cal = CALENDARS[name]
    early, late = sorted((a, b))
    assert cal.add(early, duration) <= cal.add(late, duration)


@settings(max_examples=150, deadline=None)
@given(name=calendars, start=instants, first=durations, second=durations)
def test_elapsed_is_additive_over_splits(name: str, start: datetime, first: timedelta, second: timedelta) -> None:
    cal = CALENDARS[name]
    middle, end = start + first, start + first + second
    assert cal.elapsed(start, end) == cal.elapsed(start, middle) + cal.elapsed(middle, end)
    assert cal.elapsed(start, end) <= end - start


@settings(max_examples=100, deadline=None)
@given(name=calendars, start=instants, duration=durations)
def test_add_composes(name: str, start: datetime, duration: timedelta) -> None:
    cal = CALENDARS[name]
    half = duration / 2
    assert cal.add(cal.add(start, half), duration - half) == cal.add(start, duration)


# -- an independent oracle: is the wall clock inside a shift on an open date? ------------


def _oracle_open(cal: BusinessCalendar, shifts: list[Shift], closed: set[date], at: datetime) -> bool:
    wall = at.astimezone(cal.tz).replace(tzinfo=None)
    if wall.date() in closed:
        return False
    for shift in shifts:
        for days_back in (0, 1):
            day = wall.date() - timedelta(days=days_back)
            if day.weekday() != shift.weekday:
                continue
            begin = datetime.combine(day, shift.start)
            if begin <= wall < begin + shift.length:
                return True
    return False


ORACLE_SHIFTS = {
    "Europe/London": parse_hours({"mon-fri": ["09:00-12:30", "13:30-17:00"], "sat": "22:00-06:00"}),
    "America/New_York": parse_hours({"daily": "20:00-04:00", "wed": "09:00-17:00"}),
}
ORACLE_CLOSED = {date(2026, 3, 9), date(2026, 11, 3), date(2026, 10, 26)}


@settings(max_examples=40, deadline=None)
@given(
    zone=st.sampled_from(sorted(ORACLE_SHIFTS)),
    # Around the 2026 DST changes, on whole minutes so a minute-by-minute oracle is exact.
    start=st.sampled_from(
        [datetime(2026, 3, 6), datetime(2026, 3, 26), datetime(2026, 10, 23), datetime(2026, 10, 29)]
    ),
    offset_minutes=st.integers(min_value=0, max_value=3 * 24 * 60),
    span_minutes=st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_elapsed_matches_a_minute_by_minute_wall_clock_oracle(
    zone: str, start: datetime, offset_minutes: int, span_minutes: int
) -> None:
    shifts = list(ORACLE_SHIFTS[zone])
    cal = BusinessCalendar(timezone=zone, shifts=shifts, closed_dates=ORACLE_CLOSED)
    begin = datetime.combine(start.date(), time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    begin += timedelta(minutes=offset_minutes)
    end = begin + timedelta(minutes=span_minutes)
    minute = timedelta(minutes=1)
    expected = sum(
        (minute for i in range(span_minutes) if _oracle_open(cal, shifts, ORACLE_CLOSED, begin + i * minute)),
        timedelta(0),
    )
    assert cal.elapsed(begin, end) == expected
    assert cal.is_open(begin) == _oracle_open(cal, shifts, ORACLE_CLOSED, begin)
