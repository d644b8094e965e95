"""Field types shared by every config table (durations written like "90s", "60m", "2h")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HINT = 'use a number with a unit, e.g. "90s", "60m", "2h"'
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> timedelta:
    """Parse "90s", "60m", "2h", "1h30m", "250ms" into a timedelta; a bare number is refused (no unit)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like \"60m\", got a boolean")
    if isinstance(value, int | float):
        # A bare number has no unit: `first_response = 60` meant minutes more often than seconds.
        raise ValueError(f"invalid duration {value!r}: a bare number has no unit; {_HINT}")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like \"60m\", got {type(value).__name__}")
    text = value.strip().lower().replace(" ", "")
    if not text:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """Inverse of parse_duration for whole seconds: 3600s -> "1h", 90s -> "1m30s"."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


class StrictModel(BaseModel):
    """The base of every config table: unknown keys are errors, values are frozen and validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
