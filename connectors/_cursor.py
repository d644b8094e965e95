"""JSON cursors and opaque-id ordering shared by the connectors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.timeutil import to_utc

logger = logging.getLogger(__name__)


def load_cursor(text: str | None, *, source: str) -> dict[str, Any]:
    """Decode a cursor this package wrote; an unreadable one is logged and treated as absent."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        # Starting afresh re-reads at most one page per stream; the store dedupes it.
        logger.warning("%s: ignoring unreadable cursor %.80r; starting afresh", source, text)
        return {}
    return value


def dump_cursor(value: Mapping[str, Any]) -> str:
    """Encode a cursor compactly and deterministically."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def id_order(value: str) -> tuple[int, str]:
    """Sort key for opaque snowflake-like ids: longer is newer, then lexical (never cast to int)."""
    return (len(value), value)


def newest_id(ids: Iterable[str | None], current: str | None = None) -> str | None:
    """The newest of `ids` and `current` by `id_order`; None when there is none."""
    best = current
    for candidate in ids:
        if candidate and (best is None or id_order(candidate) > id_order(best)):
            best = candidate
    return best


def saved_time(value: Any) -> datetime | None:
    """A time this package wrote into a cursor (ISO-8601) as aware UTC; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return to_utc(value)
    except ValueError:
        return None
