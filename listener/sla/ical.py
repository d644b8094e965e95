"""Closed dates and closed periods read from iCalendar data (all-day and timed VEVENTs, RRULE expanded)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from dateutil.rrule import rruleset, rrulestr
from icalendar import Calendar
from icalendar.prop import vRecur

from listener.sla.calendar import CalendarError, ClosedPeriod

# How far recurring events are expanded, and how many occurrences one file may produce:
# a yearly holiday expands to ~75 entries, a FREQ=MINUTELY typo would never end.
DEFAULT_UNTIL = date(2100, 1, 1)
MAX_OCCURRENCES = 50_000


@dataclass(frozen=True, slots=True)
class IcalClosures:
    """What an iCal file closes: whole local dates (all-day events) and timed periods (UTC)."""

    dates: dict[date, str] = field(default_factory=dict)
    periods: tuple[ClosedPeriod, ...] = ()
    warnings: tuple[str, ...] = ()


def parse_ical(
    data: bytes | str, tz: tzinfo, *, until: date = DEFAULT_UNTIL, max_occurrences: int = MAX_OCCURRENCES
) -> IcalClosures:
    """Parse iCalendar text into closures; floating (zone-less) times are read in `tz`.

    Cancelled events are ignored; timed events without a length are skipped with a warning.
    Recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) expand up to `until`.
    """
    try:
        calendar = Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarError(f"not an iCalendar file: {exc}") from exc
    events = list(calendar.walk("VEVENT"))
    overridden: dict[str, set[datetime]] = {}
    for event in events:
        rid = event.get("RECURRENCE-ID")
        if rid is not None:
            overridden.setdefault(str(event.get("UID", "")), set()).add(_wall(rid.dt, tz)[0])
    dates: dict[date, str] = {}
    periods: list[ClosedPeriod] = []
    warnings: list[str] = []
    count = 0
    for event in events:
        name = str(event.get("SUMMARY", "") or "closed")
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if event.get("DTSTART") is None:
            warnings.append(f"event {name!r} has no DTSTART; skipped")
            continue
        start = event.get("DTSTART").dt
        all_day = not isinstance(start, datetime)
        length = _length(event, all_day, tz)
        if length <= timedelta(0):
            warnings.append(f"event {name!r} at {start} has no duration; skipped")
            continue
        skip = set() if event.get("RECURRENCE-ID") is not None else overridden.get(str(event.get("UID", "")), set())
        for wall, zone in _occurrences(event, start, tz, until):
            if wall in skip:
                continue
            count += 1
            if count > max_occurrences:
                raise CalendarError(f"iCal data expands to more than {max_occurrences} closures before {until}")
            if all_day:
                for offset in range(length.days):
                    dates.setdefault(wall.date() + timedelta(days=offset), name)
            else:
                begin = wall.replace(tzinfo=zone).astimezone(UTC)
                end = (wall + length).replace(tzinfo=zone).astimezone(UTC)
                if end > begin:
                    periods.append(ClosedPeriod(begin, end, name))
    return IcalClosures(dates=dates, periods=tuple(periods), warnings=tuple(warnings))


def load_ical(path: Path | str, tz: tzinfo, *, until: date = DEFAULT_UNTIL) -> IcalClosures:
    """Read an .ics file and parse it with `parse_ical`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CalendarError(f"cannot read iCal file {path}: {exc.strerror or exc}") from exc
    try:
        return parse_ical(data, tz, until=until)
    except CalendarError as exc:
        raise CalendarError(f"{path}: {exc}") from exc


def _length(event: Any, all_day: bool, tz: tzinfo) -> timedelta:
    """The event's length as wall-clock time in its start's zone (floating times: `tz`)."""
    start = event.get("DTSTART").dt
    end_prop = event.get("DTEND")
    if end_prop is not None:
        end = end_prop.dt
        if all_day:
            end_day: date = end.date() if isinstance(end, datetime) else end
            return end_day - start
        if not isinstance(end, datetime):
            return timedelta(0)
        # Both ends on the wall clock of the start's zone, so a DST change does not bend the length.
        zone = start.tzinfo or tz
        end_wall = end.astimezone(zone).replace(tzinfo=None) if end.tzinfo else end
        return end_wall - start.replace(tzinfo=None)
    duration = event.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return duration.dt
    # RFC 5545: an all-day event without DTEND lasts one day; a timed one has no length.
    return timedelta(days=1) if all_day else timedelta(0)


def _wall(value: date | datetime, tz: tzinfo) -> tuple[datetime, tzinfo]:
    """A date or datetime as (naive wall time, its zone); floating times take `tz`."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0)), tz
    if value.tzinfo is None:
        return value, tz
    return value.replace(tzinfo=None), value.tzinfo


def _occurrences(event: Any, start: date | datetime, tz: tzinfo, until: date) -> Iterator[tuple[datetime, tzinfo]]:
    """Occurrence starts as (naive wall time, zone), expanded on the wall clock so 12:00 stays 12:00 over DST."""
    first, zone = _wall(start, tz)
    rules = event.get("RRULE")
    rdates = event.get("RDATE")
    if rules is None and rdates is None:
        yield first, zone
        return
    rset = rruleset()
    if rules is not None:
        for rule in rules if isinstance(rules, list) else [rules]:
            rset.rrule(rrulestr(_naive_rule(rule, zone), dtstart=first))
    else:
        rset.rdate(first)
    for prop, add in (("RDATE", rset.rdate), ("EXDATE", rset.exdate)):
        values = event.get(prop)
        for entry in values if isinstance(values, list) else [values] if values is not None else []:
            for item in entry.dts:
                value = item.dt[0] if isinstance(item.dt, tuple) else item.dt  # RDATE periods: their start
                add(
                    _wall(value, zone)[0]
                    if not isinstance(value, datetime) or value.tzinfo is None
                    else value.astimezone(zone).replace(tzinfo=None)
                )
    limit = datetime.combine(until, time(0))
    for occurrence in rset:
        if occurrence >= limit:
            return
        yield occurrence, zone


def _naive_rule(rule: vRecur, zone: tzinfo) -> str:
    """RRULE text with UNTIL moved to naive wall time, matching the naive DTSTART we expand from."""
    parts = dict(rule)
    if "UNTIL" in parts:
        value = parts["UNTIL"][0]
        if isinstance(value, datetime):
            value = value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
        else:
            value = datetime.combine(value, time(23, 59, 59))
        parts["UNTIL"] = [value]
    text: bytes = vRecur(parts).to_ical()
    return text.decode()
