"""Reading API items: the one malformed-item error and the id, time, text and URL helpers every connector uses.

One bad item never stalls a source: a connector maps each item with these helpers, which raise
`MalformedItemError` naming what is missing; the connector logs it (`why_skipped`), counts it and
goes on with the next item.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from connectors.timeutil import to_utc

__all__ = [
    "MalformedItemError", "http_url", "ident_of", "mapping_of", "optional_text", "optional_time", "required_id",
    "required_time", "text_id", "why_skipped",
]


class MalformedItemError(ValueError):
    """An item (post, comment, review, status, JSONL line) lacks what we need; it is logged and skipped."""


def why_skipped(err: BaseException) -> str:
    """The log text for an item skipped because mapping it raised `err` (expected or not)."""
    if isinstance(err, MalformedItemError):
        return str(err)
    return f"{type(err).__name__}: {str(err)[:200]}"


def text_id(value: Any) -> str | None:
    """A non-blank id (or name) written as a string or an integer, as text; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def required_id(raw: Mapping[str, Any], key: str, what: str = "item") -> str:
    """`raw[key]` as a non-blank string, or MalformedItemError."""
    value = text_id(raw.get(key))
    if value is None:
        raise MalformedItemError(f"{what} has no {key}")
    return value


def ident_of(raw: Any, *keys: str) -> str | None:
    """Best-effort id of a raw item for log lines (the first of `keys`, default `id`, that is present)."""
    if isinstance(raw, Mapping):
        for key in keys or ("id",):
            value = text_id(raw.get(key))
            if value:
                return value
    return None


def required_time(value: Any, what: str = "created_at", *, tz: str | tzinfo | None = None) -> datetime:
    """A timestamp in any API format (ISO-8601, epoch seconds or ms, protobuf) as aware UTC, or MalformedItemError.

    `tz` is the zone of timestamps written without one (a source's documented local time).
    """
    if value is None or value == "":
        raise MalformedItemError(f"missing {what}")
    try:
        return to_utc(value, tz=tz)
    except ValueError as err:
        raise MalformedItemError(f"bad {what}: {err}") from err


def optional_time(value: Any, *, tz: str | tzinfo | None = None) -> datetime | None:
    """A timestamp as aware UTC, or None when absent or unreadable (optional fields never sink an item)."""
    if value is None or value == "":
        return None
    try:
        return to_utc(value, tz=tz)
    except ValueError:
        return None


def mapping_of(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one (optional nested objects)."""
    return value if isinstance(value, Mapping) else {}


def optional_text(value: Any) -> str:
    """A string field, or "" when absent or not a string."""
    return value if isinstance(value, str) else ""


def http_url(value: str, example: str = "https://example.com") -> str:
    """Validate an http(s) root URL and strip its trailing slash (the body of a pydantic validator)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL such as {example}")
    return value.strip().rstrip("/")
