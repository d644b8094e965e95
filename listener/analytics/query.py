"""`listener query`: run one analyst SQL statement on a read-only connection, with bound parameters."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from listener.analytics.db import QueryRefused

_PARAM = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<kind>str|int|float|null))?=(?P<value>.*)$", re.S)
# `name:kind=value` -> the bound value.
_CONVERT: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float, "null": lambda _v: None}


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """`name=value` (text), `name:int=10`, `name:float=0.5` or `name:null=` into bound parameters."""
    params: dict[str, Any] = {}
    for item in items:
        match = _PARAM.match(item)
        if not match:
            raise ValueError(f"bad parameter {item!r}: write name=value (or name:int=10, name:float=0.5)")
        kind, value = match["kind"] or "str", match["value"]
        try:
            params[match["name"]] = _CONVERT[kind](value)
        except ValueError:
            raise ValueError(f"parameter {match['name']!r}: {value!r} is not a valid {kind}") from None
    return params


@dataclass(slots=True)
class QueryResult:
    """Column names and a row iterator (rows stream; nothing is loaded up front)."""

    columns: list[str]
    rows: Iterator[tuple[Any, ...]]


def run_query(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> QueryResult:
    """Execute one read-only statement; refusals raise QueryRefused with the reason."""
    if not sql.strip():
        raise QueryRefused("empty query")
    try:
        cursor = conn.execute(sql, params)
    except sqlite3.DatabaseError as err:
        message = str(err)
        if "not authorized" in message or "readonly" in message or "read-only" in message:
            raise QueryRefused(
                f"refused: {message} (queries are read-only: no writes, ATTACH or state-changing pragmas)"
            ) from None
        raise QueryRefused(f"SQL error: {message}") from None
    columns = [d[0] for d in cursor.description or []]
    return QueryResult(columns, iter(cursor))
