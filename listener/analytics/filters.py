"""Report filters shared by the CLI and the API: time range, brands, sources, languages, periods."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from listener.errors import ListenerError
from listener.timefmt import iso

Every = Literal["hour", "day", "week", "month"]
EVERY: tuple[str, ...] = get_args(Every)


class FilterError(ListenerError, ValueError):
    """A filter value that cannot be understood (shown to the user as is)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Which rows a report covers. Times are aware UTC; the range is [since, until)."""

    since: datetime | None = None
    until: datetime | None = None
    brands: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def since_iso(self) -> str | None:
        """`since` in the stored text format."""
        return iso(self.since) if self.since else None

    @property
    def until_iso(self) -> str | None:
        """`until` in the stored text format."""
        return iso(self.until) if self.until else None

    def describe(self) -> dict[str, object]:
        """JSON-ready summary (echoed in every report)."""
        return {
            "since": self.since_iso,
            "until": self.until_iso,
            "brand": list(self.brands),
            "source": list(self.sources),
            "language": list(self.languages),
        }


def floor_to(value: datetime, every: str) -> datetime:
    """Start of the UTC period (`hour`, `day`, `week` from Monday, `month`) containing `value`."""
    value = value.astimezone(UTC)
    if every == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if every == "day":
        return day
    if every == "week":
        return day - timedelta(days=day.weekday())
    if every == "month":
        return day.replace(day=1)
    raise FilterError(f"unknown period {every!r}: use one of {', '.join(EVERY)}")


def parse_time(text: str, *, now: datetime, align: str | None = None) -> datetime:
    """An absolute time (ISO date or datetime; UTC when no offset) or a duration before `now`.

    A duration such as "90d" is counted back from `now` and floored to the start of its `align`
    period, so the first period of a report is complete.
    """
    text = text.strip()
    if not text:
        raise FilterError("empty time")
    if text.lower() == "now":
        return now
    # Imported here: config.types loads pydantic, which `listener query` and `--help` never need.
    from config.types import parse_duration

    try:
        back = parse_duration(text)
    except ValueError:
        back = None
    if back is not None:
        start = now - back
        return floor_to(start, align) if align else start
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"invalid time {text!r}: use a date (2026-01-31), a datetime (2026-01-31T12:00Z) or a duration (90d)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def build_filters(
    *,
    since: str | None,
    until: str | None,
    brands: tuple[str, ...] | list[str] = (),
    sources: tuple[str, ...] | list[str] = (),
    languages: tuple[str, ...] | list[str] = (),
    now: datetime | None = None,
    align: str | None = "day",
) -> Filters:
    """Validate raw option values into `Filters` (the CLI and the API call this alike)."""
    now = now or datetime.now(UTC)
    start = parse_time(since, now=now, align=align) if since else None
    end = parse_time(until, now=now) if until else None
    if start and end and end <= start:
        raise FilterError(f"--until ({iso(end)}) must be after --since ({iso(start)})")
    clean = lambda values: tuple(dict.fromkeys(v.strip() for v in values if v.strip()))  # noqa: E731
    return Filters(since=start, until=end, brands=clean(brands), sources=clean(sources), languages=clean(languages))


def in_clause(column: str, values: tuple[str, ...], params: list[object]) -> str:
    """`column IN (?, ...)` with `values` appended to `params` (empty string when no values)."""
    if not values:
        return ""
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def in_clauses(pairs: Iterable[tuple[str, tuple[str, ...]]], params: list[object]) -> list[str]:
    """One `column IN (...)` clause per (column, values) pair that has values, their values appended to `params`."""
    return [clause for column, values in pairs if (clause := in_clause(column, values, params))]
