"""Business calendars: the practitioners' worked examples, holidays, DST, split and overnight shifts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from listener.sla.calendar import (
    BusinessCalendar,
    CalendarError,
    ClosedPeriod,
    ClosedPeriodResponse,
    Shift,
    parse_days,
    parse_hours,
    parse_span,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)
H = timedelta(hours=1)


def office(tz: str = "Europe/London", hours: dict | None = None, **kw) -> BusinessCalendar:  # type: ignore[type-arg]
    return BusinessCalendar(name="office", timezone=tz, shifts=parse_hours(hours or {"mon-fri": "09:00-17:00"}), **kw)


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


# -- the worked examples ([HS4], [OS8]) ---------------------------------------------------


def test_thirty_minutes_from_friday_1645_breach_monday_0915() -> None:
    cal = office()
    due = cal.add(local(LONDON, 2026, 1, 9, 16, 45), 30 * M)
    assert due.astimezone(LONDON) == local(LONDON, 2026, 1, 12, 9, 15)
    assert due.tzinfo is UTC


def test_sixty_minutes_from_friday_1630_breach_monday_0930() -> None:
    cal = office()
    due = cal.add(local(LONDON, 2026, 1, 9, 16, 30), 60 * M)
    assert due.astimezone(LONDON) == local(LONDON, 2026, 1, 12, 9, 30)


def test_holiday_monday_pushes_the_breach_to_tuesday() -> None:
    cal = office(holiday_country="GB", holiday_subdiv="ENG")  # 2026-05-25: Spring Bank Holiday
    due = cal.add(local(LONDON, 2026, 5, 22, 16, 30), 60 * M)
    assert due.astimezone(LONDON) == local(LONDON, 2026, 5, 26, 9, 30)
    assert (date(2026, 5, 25), "Spring Bank Holiday") in cal.closures_between(local(LONDON, 2026, 5, 22, 16, 30), due)


def test_us_holiday_by_country() -> None:
    cal = office("America/New_York", holiday_country="US")  # 2026-09-07: Labor Day
    due = cal.add(local(NEW_YORK, 2026, 9, 4, 16, 30), 60 * M)
    assert due.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 9, 8, 9, 30)


def test_extra_closed_date() -> None:
    cal = office(closed_dates={date(2026, 1, 12): "stocktake"})
    due = cal.add(local(LONDON, 2026, 1, 9, 16, 30), 60 * M)
    assert due.astimezone(LONDON) == local(LONDON, 2026, 1, 13, 9, 30)
    assert cal.closures_between(local(LONDON, 2026, 1, 9), due) == [(date(2026, 1, 12), "stocktake")]


def test_target_running_out_at_closing_time_is_closing_time() -> None:
    cal = office()
    assert cal.add(local(LONDON, 2026, 1, 9, 16, 30), 30 * M).astimezone(LONDON) == local(LONDON, 2026, 1, 9, 17, 0)


def test_message_in_closed_time_counts_from_the_next_opening() -> None:
    cal = office()
    assert cal.add(local(LONDON, 2026, 1, 10, 11, 0), 60 * M).astimezone(LONDON) == local(LONDON, 2026, 1, 12, 10, 0)


# -- DST --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "start", "target", "due_local", "due_utc"),
    [
        # Europe/London springs forward on Sun 2026-03-29, falls back on Sun 2026-10-25.
        (LONDON, (2026, 3, 27, 16, 30), 60, (2026, 3, 30, 9, 30), (2026, 3, 30, 8, 30)),
        (LONDON, (2026, 10, 23, 16, 30), 60, (2026, 10, 26, 9, 30), (2026, 10, 26, 9, 30)),
        # America/New_York springs forward on Sun 2026-03-08, falls back on Sun 2026-11-01.
        (NEW_YORK, (2026, 3, 6, 16, 45), 30, (2026, 3, 9, 9, 15), (2026, 3, 9, 13, 15)),
        (NEW_YORK, (2026, 10, 30, 16, 30), 60, (2026, 11, 2, 9, 30), (2026, 11, 2, 14, 30)),
    ],
)
def test_weekend_dst_change_keeps_local_opening_hours(tz, start, target, due_local, due_utc) -> None:  # type: ignore[no-untyped-def]
    cal = office(str(tz))
    due = cal.add(local(tz, *start), target * M)
    assert due.astimezone(tz) == local(tz, *due_local)
    assert due == datetime(*due_utc, tzinfo=UTC)
    assert cal.elapsed(local(tz, *start), due) == target * M


def test_round_the_clock_day_is_23_or_25_hours_on_dst_days() -> None:
    cal = BusinessCalendar(timezone="Europe/London", shifts=parse_hours({"daily": "00:00-24:00"}))
    assert cal.elapsed(local(LONDON, 2026, 3, 29, 0, 0), local(LONDON, 2026, 3, 30, 0, 0)) == 23 * H
    assert cal.elapsed(local(LONDON, 2026, 10, 25, 0, 0), local(LONDON, 2026, 10, 26, 0, 0)) == 25 * H
    assert cal.elapsed(local(LONDON, 2026, 3, 28, 12), local(LONDON, 2026, 3, 29, 12)) == 23 * H


def test_overnight_shift_across_dst_counts_real_hours() -> None:
    cal = BusinessCalendar(timezone="Europe/London", shifts=parse_hours({"daily": "22:00-06:00"}))
    assert cal.elapsed(local(LONDON, 2026, 3, 28, 21), local(LONDON, 2026, 3, 29, 8)) == 7 * H
    assert cal.elapsed(local(LONDON, 2026, 10, 24, 21), local(LONDON, 2026, 10, 25, 8)) == 9 * H
    assert cal.elapsed(local(LONDON, 2026, 1, 10, 21), local(LONDON, 2026, 1, 11, 8)) == 8 * H


def test_shift_inside_the_skipped_hour_does_not_exist_that_day() -> None:
    cal = BusinessCalendar(timezone="America/New_York", shifts=parse_hours({"sun": "02:00-03:00"}))
    assert cal.elapsed(local(NEW_YORK, 2026, 3, 8, 0), local(NEW_YORK, 2026, 3, 9, 0)) == timedelta(0)
    assert cal.elapsed(local(NEW_YORK, 2026, 3, 15, 0), local(NEW_YORK, 2026, 3, 16, 0)) == H
    assert cal.add(local(NEW_YORK, 2026, 3, 7, 12), 30 * M).astimezone(NEW_YORK) == local(NEW_YORK, 2026, 3, 15, 2, 30)


def test_shift_starting_in_the_gap_opens_when_the_clock_jumps() -> None:
    # 02:30 never shows on the wall that night; the shift starts when the clock reads 03:00.
    cal = BusinessCalendar(timezone="America/New_York", shifts=parse_hours({"sun": "02:30-05:00"}))
    assert cal.next_open(local(NEW_YORK, 2026, 3, 8, 0)).astimezone(NEW_YORK) == local(NEW_YORK, 2026, 3, 8, 3, 0)
    assert cal.elapsed(local(NEW_YORK, 2026, 3, 8, 0), local(NEW_YORK, 2026, 3, 8, 12)) == 2 * H


# -- shifts -----------------------------------------------------------------------------


def test_split_shift_skips_the_lunch_break() -> None:
    cal = office(hours={"mon-fri": ["09:00-12:00", "13:00-17:00"]})
    monday = (2026, 1, 12)
    assert cal.add(local(LONDON, *monday, 11, 45), 30 * M).astimezone(LONDON) == local(LONDON, *monday, 13, 15)
    assert not cal.is_open(local(LONDON, *monday, 12, 30))
    assert cal.next_open(local(LONDON, *monday, 12, 30)).astimezone(LONDON) == local(LONDON, *monday, 13, 0)
    assert cal.elapsed(local(LONDON, *monday, 0), local(LONDON, *monday, 23, 59)) == 7 * H


def test_overnight_shift_belongs_to_its_start_day() -> None:
    cal = office(hours={"mon-fri": "22:00-06:00"})
    # Friday's shift runs into Saturday morning; nothing starts on Saturday.
    assert cal.is_open(local(LONDON, 2026, 1, 10, 5, 0))
    assert not cal.is_open(local(LONDON, 2026, 1, 11, 5, 0))
    assert not cal.is_open(local(LONDON, 2026, 1, 12, 5, 0))  # Monday 05:00: Sunday had no shift
    assert cal.add(local(LONDON, 2026, 1, 13, 5, 30), 60 * M).astimezone(LONDON) == local(LONDON, 2026, 1, 13, 22, 30)


def test_closed_date_closes_its_whole_local_day_including_overnight_tails() -> None:
    cal = office(hours={"mon-fri": "22:00-06:00"}, closed_dates=[date(2026, 1, 13)])  # a Tuesday
    assert cal.is_open(local(LONDON, 2026, 1, 12, 23, 0))  # Monday's shift, Monday evening
    assert not cal.is_open(local(LONDON, 2026, 1, 13, 2, 0))  # Monday's shift, but on the closed date
    assert not cal.is_open(local(LONDON, 2026, 1, 13, 23, 0))  # Tuesday's shift on the closed date
    assert cal.is_open(local(LONDON, 2026, 1, 14, 2, 0))  # Tuesday's shift running into Wednesday


def test_overlapping_shifts_are_not_counted_twice() -> None:
    cal = office(hours={"mon": ["09:00-13:00", "12:00-17:00"], "sun": "20:00-10:00"})
    assert cal.elapsed(local(LONDON, 2026, 1, 12, 0), local(LONDON, 2026, 1, 13, 0)) == 17 * H


def test_open_and_closed_boundaries_are_half_open() -> None:
    cal = office()
    assert cal.is_open(local(LONDON, 2026, 1, 12, 9, 0))
    assert not cal.is_open(local(LONDON, 2026, 1, 12, 17, 0))
    assert not cal.is_open(local(LONDON, 2026, 1, 12, 8, 59, 59))


def test_next_open() -> None:
    cal = office()
    saturday = local(LONDON, 2026, 1, 10, 12)
    assert cal.next_open(saturday).astimezone(LONDON) == local(LONDON, 2026, 1, 12, 9, 0)
    inside = local(LONDON, 2026, 1, 12, 10)
    assert cal.next_open(inside) == inside


def test_timed_closure_pauses_the_clock() -> None:
    closure = ClosedPeriod(local(LONDON, 2026, 1, 12, 10), local(LONDON, 2026, 1, 12, 11), "all-hands")
    cal = office(closed_periods=[closure])
    due = cal.add(local(LONDON, 2026, 1, 12, 9, 30), 60 * M)
    assert due.astimezone(LONDON) == local(LONDON, 2026, 1, 12, 11, 30)
    assert cal.closures_between(local(LONDON, 2026, 1, 12, 9, 30), due) == [(date(2026, 1, 12), "all-hands")]


def test_multi_day_closure_spanning_a_weekend() -> None:
    closure = ClosedPeriod(local(LONDON, 2026, 1, 9, 16), local(LONDON, 2026, 1, 12, 12), "move")
    cal = office(closed_periods=[closure])
    assert cal.add(local(LONDON, 2026, 1, 9, 15, 30), 60 * M).astimezone(LONDON) == local(LONDON, 2026, 1, 12, 12, 30)


# -- 24/7 -------------------------------------------------------------------------------


def test_no_shifts_means_24_7() -> None:
    cal = BusinessCalendar()
    start = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
    assert cal.is_24_7
    assert cal.add(start, 90 * M) == start + 90 * M
    assert cal.elapsed(start, start + 50 * H) == 50 * H
    assert cal.is_open(start)
    assert cal.describe() == "24/7 UTC"


def test_24_7_with_a_holiday_skips_the_whole_local_day() -> None:
    cal = BusinessCalendar(timezone="Europe/Berlin", closed_dates=[date(2026, 12, 25)])
    assert not cal.is_24_7
    start = local(BERLIN, 2026, 12, 24, 23, 30)
    assert cal.add(start, 60 * M).astimezone(BERLIN) == local(BERLIN, 2026, 12, 26, 0, 30)


# -- measuring responses ---------------------------------------------------------------


def test_answer_inside_one_closed_period_zero_or_wall() -> None:
    saturday_10, saturday_11 = local(LONDON, 2026, 1, 10, 10), local(LONDON, 2026, 1, 10, 11)
    zero = office().response_time(saturday_10, saturday_11)
    assert (zero.business, zero.wall, zero.inside_closed_period) == (timedelta(0), H, True)
    wall = office(closed_period_response=ClosedPeriodResponse.WALL).response_time(saturday_10, saturday_11)
    assert (wall.business, wall.wall, wall.inside_closed_period) == (H, H, True)


def test_answer_spanning_open_time_is_business_time_in_both_modes() -> None:
    friday, monday = local(LONDON, 2026, 1, 9, 16, 30), local(LONDON, 2026, 1, 12, 9, 30)
    for mode in ClosedPeriodResponse:
        result = office(closed_period_response=mode).response_time(friday, monday)
        assert result.business == H
        assert result.wall == monday - friday
        assert not result.inside_closed_period


def test_elapsed_is_zero_backwards_and_add_zero_is_identity() -> None:
    cal = office()
    a, b = local(LONDON, 2026, 1, 12, 10), local(LONDON, 2026, 1, 12, 12)
    assert cal.elapsed(b, a) == timedelta(0)
    assert cal.elapsed(a, b) == 2 * H
    saturday = local(LONDON, 2026, 1, 10, 12)
    assert cal.add(saturday, timedelta(0)) == saturday


def test_open_until_merges_across_midnight() -> None:
    quiet = BusinessCalendar(timezone="Europe/London", shifts=parse_hours({"daily": "22:00-07:00"}))
    assert quiet.open_until(local(LONDON, 2026, 1, 12, 23)).astimezone(LONDON) == local(LONDON, 2026, 1, 13, 7)
    assert quiet.open_until(local(LONDON, 2026, 1, 12, 12)) is None


# -- description and validation --------------------------------------------------------


def test_describe_groups_days() -> None:
    cal = BusinessCalendar(
        timezone="Europe/Berlin",
        shifts=parse_hours({"mon-fri": ["09:00-12:00", "13:00-17:00"], "sat": "10:00-14:00"}),
        holiday_country="DE",
        holiday_subdiv="BY",
    )
    assert cal.describe() == "Mon-Fri 09:00-12:00, 13:00-17:00; Sat 10:00-14:00 Europe/Berlin, holidays DE-BY"


def test_parse_helpers() -> None:
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("fri-mon") == [0, 4, 5, 6]
    assert parse_days("sat, sun") == [5, 6]
    assert parse_days("daily") == list(range(7))
    assert parse_span("22:00-06:00")[1] == 8 * H
    assert parse_span("00:00-24:00")[1] == 24 * H
    assert Shift(0, parse_span("00:00-24:00")[0], 24 * H).label() == "00:00-24:00"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"shifts": "bad-span"}, "invalid shift"),
        ({"shifts": "same"}, "start equals end"),
        ({"shifts": "bad-day"}, "invalid day"),
        ({"holiday_subdiv": "BY"}, "needs a holiday country"),
        ({"holiday_country": "XX"}, "holidays"),
        ({"holiday_country": "DE", "holiday_subdiv": "ZZ"}, "subdivision"),
    ],
)
def test_invalid_definitions_are_refused(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    spans = {"bad-span": {"mon": "25:00-26:00"}, "same": {"mon": "09:00-09:00"}, "bad-day": {"funday": "09:00-10:00"}}
    with pytest.raises(CalendarError, match=message):
        if "shifts" in kwargs:
            parse_hours(spans[kwargs["shifts"]])
        else:
            BusinessCalendar(**kwargs)


def test_naive_datetimes_and_negative_durations_are_refused() -> None:
    cal = office()
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add(datetime(2026, 1, 12, 9), H)
    with pytest.raises(CalendarError, match="negative"):
        cal.add(local(LONDON, 2026, 1, 12, 9), -H)


def test_calendar_that_never_opens_raises_instead_of_looping() -> None:
    closure = ClosedPeriod(datetime(2026, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC), "forever")
    cal = office(closed_periods=[closure])
    with pytest.raises(CalendarError, match="no open time"):
        cal.add(datetime(2026, 1, 5, tzinfo=UTC), H)


def test_holiday_lookups_are_cached_per_date() -> None:
    cal = office(holiday_country="GB")
    calls: list[date] = []
    table = cal._holidays

    class Counting:
        def get(self, day: date) -> str | None:
            calls.append(day)
            return table.get(day)

    cal._holidays = Counting()
    start = local(LONDON, 2026, 1, 9, 12)
    for minute in range(0, 2000, 7):
        cal.add(start + minute * M, 90 * M)
    assert len(calls) == len(set(calls))
    assert len(calls) < 10


def test_explained_closures_leave_out_holidays_on_days_off() -> None:
    cal = office(holiday_country="GB")  # 2027-12-25 is a Saturday, substitute days follow
    found = cal.closures_between(local(LONDON, 2027, 12, 24, 12), local(LONDON, 2027, 12, 29, 12))
    assert [d for d, _ in found] == [date(2027, 12, 27), date(2027, 12, 28)]
