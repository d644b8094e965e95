"""Time helpers of the kernel: the stored timestamp format and human durations (imports nothing of ours)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime) -> str:
    """Aware datetime -> ISO-8601 UTC string with a fixed width (sortable as text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str | None) -> datetime | None:
    """Inverse of `iso` (also accepts other ISO-8601 strings with an offset)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
