"""Turn every timestamp format the source APIs use into an aware UTC datetime."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Epoch seconds written as text: "1700000000", "1700000000.123456" (Slack ts, Reddit, HN).
_EPOCH_TEXT = re.compile(r"[+-]?\d+(?:\.\d*)?")
# X/Twitter v1.1 style: "Tue Oct 31 22:10:47 +0000 2017".
_TWITTER_FORMAT = "%a %b %d %H:%M:%S %z %Y"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SECONDS = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds()
_MIN_SECONDS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()


def zone(value: str | tzinfo | None) -> tzinfo | None:
    """Resolve an IANA zone name ("Europe/Paris", "UTC") or tzinfo; ValueError if unknown."""
    if value is None or isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Paris')") from err


def to_utc(value: Any, *, tz: str | tzinfo | None = None) -> datetime:
    """Convert a timestamp in any supported API format to an aware UTC datetime.

    Args:
        value: an aware or naive `datetime`; epoch seconds as int, float or numeric string;
            a `{"seconds": ..., "nanos": ...}` mapping (Google protobuf JSON); an ISO-8601 /
            RFC 3339 string with `Z` or an offset (any number of fraction digits); an
            RFC 2822 date; or an X/Twitter v1.1 date such as `Tue Oct 31 22:10:47 +0000 2017`.
        tz: zone for timestamps that carry none (naive datetimes, `YYYY-MM-DD HH:MM:SS`).

    Returns:
        The same instant as an aware datetime in UTC.

    Raises:
        ValueError: the value is not a timestamp, is out of range, or is naive and no `tz`
            was given.
    """
    where = zone(tz)
    try:
        return _dispatch(value, where)
    except OverflowError as err:
        raise ValueError(f"timestamp {value!r} is out of range") from err


def _dispatch(value: Any, where: tzinfo | None) -> datetime:
    if isinstance(value, datetime):
        return _localise(value, where, value)
    if isinstance(value, bool):  # bool is an int subclass; True is not a timestamp
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return _from_epoch(value, value)
    if isinstance(value, Mapping):
        return _from_seconds_nanos(value)
    if isinstance(value, str):
        return _from_text(value, where)
    raise ValueError(f"not a timestamp: unsupported type {type(value).__name__}")


def _localise(value: datetime, where: tzinfo | None, original: Any) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        if where is None:
            raise ValueError(f"timestamp {original!r} has no time zone and none is configured")
        value = value.replace(tzinfo=where)
    try:
        return value.astimezone(UTC)
    except OverflowError as err:
        raise ValueError(f"timestamp {original!r} is out of range") from err


def _from_epoch(seconds: float, original: Any) -> datetime:
    if not math.isfinite(seconds) or not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise ValueError(f"epoch timestamp {original!r} is out of range")
    if isinstance(seconds, int):
        return _EPOCH + timedelta(seconds=seconds)
    whole = math.floor(seconds)
    # Round the fraction to whole microseconds ourselves: float seconds past 2**31 carry noise.
    micros = round((seconds - whole) * 1_000_000)
    return _EPOCH + timedelta(seconds=whole, microseconds=micros)


def _from_epoch_text(text: str) -> datetime:
    """Parse "1700000000.123456" exactly (no float rounding of the fraction)."""
    whole, _, fraction = text.partition(".")
    seconds = int(whole)
    if seconds < _MIN_SECONDS or seconds > _MAX_SECONDS:
        raise ValueError(f"epoch timestamp {text!r} is out of range")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    if whole.startswith("-"):
        micros = -micros
    return _EPOCH + timedelta(seconds=seconds, microseconds=micros)


def _from_seconds_nanos(value: Mapping[Any, Any]) -> datetime:
    if "seconds" not in value or set(value) - {"seconds", "nanos"}:
        raise ValueError(f"not a timestamp: expected {{seconds, nanos}}, got keys {sorted(map(str, value))}")
    try:
        seconds = int(value["seconds"])  # Google sends it as a string
        nanos = int(value.get("nanos") or 0)
    except (TypeError, ValueError) as err:
        raise ValueError(f"not a timestamp: {dict(value)!r}") from err
    if isinstance(value["seconds"], bool) or not 0 <= nanos < 1_000_000_000:
        raise ValueError(f"not a timestamp: {dict(value)!r}")
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise ValueError(f"timestamp {dict(value)!r} is out of range")
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def _from_text(value: str, where: tzinfo | None) -> datetime:
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if _EPOCH_TEXT.fullmatch(text):
        return _from_epoch_text(text)
    iso = _normalise_iso(text)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        pass
    else:
        return _localise(parsed, where, value)
    try:
        return datetime.strptime(text, _TWITTER_FORMAT).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    return _from_rfc2822(text, where, value)


def _normalise_iso(text: str) -> str:
    # RFC 3339 allows lower-case "t" and "z"; fromisoformat does not.
    if len(text) > 10 and text[10] == "t":
        text = text[:10] + "T" + text[11:]
    if text.endswith("z"):
        text = text[:-1] + "Z"
    return text


def _from_rfc2822(text: str, where: tzinfo | None, original: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError) as err:
        raise ValueError(f"unrecognised timestamp {original!r}") from err
    if parsed is None:
        raise ValueError(f"unrecognised timestamp {original!r}")
    if parsed.tzinfo is None and text.rstrip().endswith("-0000"):
        # RFC 2822: "-0000" means the time is UTC and the sender's zone is unknown.
        parsed = parsed.replace(tzinfo=UTC)
    return _localise(parsed, where, original)
