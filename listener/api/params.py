"""Turn request query strings into the same filters the CLI builds from its options."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from multidict import MultiMapping

from listener.analytics.filters import FilterError, Filters, build_filters

MAX_LIMIT = 1000


def values(query: MultiMapping[str], name: str) -> tuple[str, ...]:
    """A repeatable parameter: `?brand=a&brand=b` or `?brand=a,b`."""
    found: list[str] = []
    for raw in query.getall(name, []):
        found += [v.strip() for v in raw.split(",") if v.strip()]
    return tuple(dict.fromkeys(found))


def one(
    query: Mapping[str, str], name: str, default: str | None = None, choices: tuple[str, ...] | None = None
) -> str | None:
    """A single-valued parameter, checked against `choices` when given."""
    value = query.get(name, default)
    if value is not None and choices is not None and value not in choices:
        raise FilterError(f"{name} must be one of {', '.join(choices)}")
    return value


def flag(query: Mapping[str, str], name: str) -> bool | None:
    """true/false/1/0 (None when absent)."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise FilterError(f"{name} must be true or false")


def limit(query: Mapping[str, str], default: int = 100) -> int:
    """Page size, 1..MAX_LIMIT."""
    raw = query.get("limit")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise FilterError("limit must be an integer") from None
    if not 1 <= size <= MAX_LIMIT:
        raise FilterError(f"limit must be between 1 and {MAX_LIMIT}")
    return size


def filters(query: MultiMapping[str], *, default_since: str | None, align: str | None, now: datetime) -> Filters:
    """since/until/brand/source/language, exactly as the CLI options."""
    return build_filters(
        since=query.get("since", default_since),
        until=query.get("until"),
        brands=values(query, "brand"),
        sources=values(query, "source"),
        languages=values(query, "language"),
        now=now,
        align=align,
    )
