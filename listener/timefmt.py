"""Time helpers of the kernel: the stored timestamp format and human durations (imports nothing of ours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def iso(value: datetime) -> str:
    """Aware datetime -> ISO-8601 UTC string with a fixed width (sortable as text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str | None) -> datetime | None:
    """Inverse of `iso` (also accepts other ISO-8601 strings with an offset)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(value: timedelta | float, *, seconds: bool = False, sep: str = " ", exact: bool = False) -> str:
    """A short human duration; negative values keep their sign.

    Default (alerts, log lines): `45s`, `12m`, `1h 05m`, `2d 3h`; `sep=""` joins the parts (`1h05m`, `2d3h`).
    `exact=True` (reports of response times) keeps the seconds under an hour: `12m 05s`.
    `seconds=True` (tables that tick, like `listener complaints`): `4m02s` under an hour, else `1h05m`;
    hours never roll over into days there, and a part second is dropped.
    """
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if total < 0 else ""
    if seconds:
        whole = abs(int(total))
        hours, rest = divmod(whole, 3600)
        return f"{sign}{hours}h{rest // 60:02d}m" if hours else f"{sign}{rest // 60}m{rest % 60:02d}s"
    whole = round(abs(total))
    if whole < 60:
        return f"{sign}{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{sign}{minutes}m{sep}{whole % 60:02d}s" if exact else f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h{sep}{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d{sep}{hours}h"
