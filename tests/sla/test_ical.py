"""Closures from iCalendar data: all-day and timed events, recurrence, and the calendar built from a file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from listener.sla.calendar import BusinessCalendar, CalendarError, parse_hours
from listener.sla.ical import load_ical, parse_ical

BERLIN = ZoneInfo("Europe/Berlin")


def ics(*events: str) -> str:
    body = "\n".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT" for e in events)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//listener tests//EN\n{body}\nEND:VCALENDAR\n".replace("\n", "\r\n")


def test_all_day_events_close_dates_end_exclusive() -> None:
    data = ics(
        "UID:a\nSUMMARY:Christmas break\nDTSTART;VALUE=DATE:20261224\nDTEND;VALUE=DATE:20261227",
        "UID:b\nSUMMARY:Founders day\nDTSTART;VALUE=DATE:20260615",
    )
    closures = parse_ical(data, BERLIN)
    assert closures.dates == {
        date(2026, 12, 24): "Christmas break",
        date(2026, 12, 25): "Christmas break",
        date(2026, 12, 26): "Christmas break",
        date(2026, 6, 15): "Founders day",
    }
    assert closures.periods == ()


def test_timed_events_with_zone_floating_and_utc() -> None:
    data = ics(
        "UID:a\nSUMMARY:Offsite\nDTSTART;TZID=Europe/Berlin:20260601T120000\nDTEND;TZID=Europe/Berlin:20260601T140000",
        "UID:b\nSUMMARY:Floating\nDTSTART:20260602T090000\nDURATION:PT30M",
        "UID:c\nSUMMARY:Utc\nDTSTART:20260603T080000Z\nDTEND:20260603T090000Z",
    )
    periods = sorted(parse_ical(data, BERLIN).periods, key=lambda p: p.start)
    assert [(p.name, p.start, p.end) for p in periods] == [
        ("Offsite", datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 12, tzinfo=UTC)),
        ("Floating", datetime(2026, 6, 2, 7, tzinfo=UTC), datetime(2026, 6, 2, 7, 30, tzinfo=UTC)),
        ("Utc", datetime(2026, 6, 3, 8, tzinfo=UTC), datetime(2026, 6, 3, 9, tzinfo=UTC)),
    ]


def test_recurring_events_expand_with_exdate_rdate_and_overrides() -> None:
    data = ics(
        "UID:w\nSUMMARY:Training\nDTSTART;TZID=Europe/Berlin:20260302T120000\nDURATION:PT1H\n"
        "RRULE:FREQ=WEEKLY;UNTIL=20260401T000000Z\nEXDATE;TZID=Europe/Berlin:20260309T120000",
        "UID:w\nRECURRENCE-ID;TZID=Europe/Berlin:20260316T120000\nSUMMARY:Training moved\n"
        "DTSTART;TZID=Europe/Berlin:20260317T150000\nDTEND;TZID=Europe/Berlin:20260317T160000",
        "UID:y\nSUMMARY:New Year\nDTSTART;VALUE=DATE:20250101\nRRULE:FREQ=YEARLY;COUNT=3",
    )
    closures = parse_ical(data, BERLIN)
    starts = sorted((p.start.astimezone(BERLIN).replace(tzinfo=None), p.name) for p in closures.periods)
    assert starts == [
        (datetime(2026, 3, 2, 12), "Training"),
        (datetime(2026, 3, 17, 15), "Training moved"),
        (datetime(2026, 3, 23, 12), "Training"),
        (datetime(2026, 3, 30, 12), "Training"),  # still 12:00 local after the DST change
    ]
    assert sorted(closures.dates) == [date(2025, 1, 1), date(2026, 1, 1), date(2027, 1, 1)]


def test_cancelled_and_lengthless_events() -> None:
    data = ics(
        "UID:a\nSUMMARY:Gone\nSTATUS:CANCELLED\nDTSTART;VALUE=DATE:20260601",
        "UID:b\nSUMMARY:Instant\nDTSTART:20260601T120000Z",
    )
    closures = parse_ical(data, BERLIN)
    assert closures.dates == {} and closures.periods == ()
    assert len(closures.warnings) == 1 and "Instant" in closures.warnings[0]


def test_runaway_recurrence_is_refused() -> None:
    data = ics("UID:a\nSUMMARY:Every minute\nDTSTART:20260101T000000Z\nDURATION:PT1M\nRRULE:FREQ=MINUTELY")
    with pytest.raises(CalendarError, match="more than 500 closures"):
        parse_ical(data, BERLIN, max_occurrences=500)


def test_garbage_and_missing_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="not an iCalendar"):
        parse_ical("this is not ics", BERLIN)
    with pytest.raises(CalendarError, match="cannot read iCal file"):
        load_ical(tmp_path / "missing.ics", BERLIN)


def test_calendar_from_ical_file_pushes_a_deadline(tmp_path: Path) -> None:
    path = tmp_path / "closures.ics"
    path.write_text(
        ics(
            "UID:a\nSUMMARY:Team day\nDTSTART;VALUE=DATE:20260112",
            "UID:b\nSUMMARY:All hands\nDTSTART;TZID=Europe/Berlin:20260113T090000\n"
            "DTEND;TZID=Europe/Berlin:20260113T100000",
        )
    )
    closures = load_ical(path, BERLIN)
    cal = BusinessCalendar(
        name="support-eu",
        timezone="Europe/Berlin",
        shifts=parse_hours({"mon-fri": "09:00-17:00"}),
        closed_dates=closures.dates,
        closed_periods=closures.periods,
    )
    friday = datetime(2026, 1, 9, 16, 30, tzinfo=BERLIN)
    due = cal.add(friday, timedelta(minutes=60))
    # Monday is a team day, Tuesday opens at 10:00 after the all-hands.
    assert due.astimezone(BERLIN) == datetime(2026, 1, 13, 10, 30, tzinfo=BERLIN)


def test_end_in_another_zone_than_the_start() -> None:
    data = ics("UID:a\nSUMMARY:Call\nDTSTART;TZID=Europe/Berlin:20260601T120000\nDTEND:20260601T110000Z")
    (period,) = parse_ical(data, BERLIN).periods
    assert (period.start, period.end) == (datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 11, tzinfo=UTC))
