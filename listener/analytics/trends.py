"""Sentiment and complaint-rate trends per period, grouped by brand, source and/or language.

Whole UTC hours are read from the hourly rollups (kept current by triggers); the partial hours
at either end of the range, and filters the rollups cannot answer, are read from the raw tables.
Both paths count the same thing: classified mentions, by the mention's post time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.analytics.filters import EVERY, FilterError, Filters, floor_to, in_clause, in_clauses
from listener.analytics.schema_sql import BUCKET_SQL, COUNT_COLUMNS, LANGUAGE_EXPR
from listener.timefmt import iso

DIMENSIONS: tuple[str, ...] = ("brand", "source", "language")
_Key = tuple[str, ...]


def _hour_key(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _check(every: str, by: Sequence[str]) -> tuple[str, ...]:
    if every not in EVERY:
        raise FilterError(f"unknown period {every!r}: use one of {', '.join(EVERY)}")
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise FilterError(f"cannot group by {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    return tuple(dict.fromkeys(by))


def _rollup_part(
    conn: sqlite3.Connection, every: str, by: tuple[str, ...], f: Filters, start: datetime | None, end: datetime | None
) -> list[tuple[Any, ...]]:
    branded = "brand" in by or bool(f.brands)
    table = "trend_brand_hourly" if branded else "trend_hourly"
    params: list[object] = []
    where = []
    if start is not None:
        where.append("hour >= ?")
        params.append(_hour_key(start))
    if end is not None:
        where.append("hour < ?")
        params.append(_hour_key(end))
    where += in_clauses((("brand", f.brands), ("source", f.sources), ("language", f.languages)), params)
    dims = "".join(f", {d}" for d in by)
    sums = ", ".join(f"SUM({k})" for k in COUNT_COLUMNS)
    sql = (
        f"SELECT {BUCKET_SQL[every].format(t='hour')} AS bucket{dims}, {sums} FROM {table}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" GROUP BY bucket{dims}"
    )
    return conn.execute(sql, params).fetchall()


def _raw_part(
    conn: sqlite3.Connection, every: str, by: tuple[str, ...], f: Filters, start: datetime | None, end: datetime | None
) -> list[tuple[Any, ...]]:
    language = LANGUAGE_EXPR.format(c="c", m="m")
    columns = {"brand": "b.brand", "source": "m.source", "language": language}
    params: list[object] = []
    where = []
    if start is not None:
        where.append("m.created_at >= ?")
        params.append(iso(start))
    if end is not None:
        where.append("m.created_at < ?")
        params.append(iso(end))
    joins = ""
    if "brand" in by:
        joins = " JOIN mention_brands b ON b.mention_key = m.key"
        if f.brands:
            where.append(in_clause("b.brand", f.brands, params))
    elif f.brands:
        # Without grouping by brand a mention naming two of the brands still counts once.
        where.append(
            "EXISTS (SELECT 1 FROM mention_brands b WHERE b.mention_key = m.key AND "
            + in_clause("b.brand", f.brands, params)
            + ")"
        )
    where += in_clauses((("m.source", f.sources), (language, f.languages)), params)
    dims = "".join(f", {columns[d]}" for d in by)
    counts = (
        "COUNT(*), SUM(c.sentiment IS NOT NULL), SUM(COALESCE(c.sentiment = 'negative', 0)), "
        "SUM(COALESCE(c.sentiment = 'neutral', 0)), SUM(COALESCE(c.sentiment = 'positive', 0)), "
        "SUM(c.sentiment IS NOT NULL AND COALESCE(c.complaint, 0) != 0)"
    )
    sql = (
        f"SELECT {BUCKET_SQL[every].format(t='m.created_at')} AS bucket{dims}, {counts} "
        f"FROM mentions m JOIN classifications c ON c.mention_key = m.key{joins}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " GROUP BY "
        + ", ".join(str(i + 1) for i in range(len(by) + 1))
    )
    return conn.execute(sql, params).fetchall()


def _ranges(
    f: Filters,
) -> tuple[list[tuple[datetime | None, datetime | None]], tuple[datetime | None, datetime | None] | None]:
    """Split [since, until) into raw edge ranges and the whole-hour middle the rollups answer."""
    start = f.since
    end = f.until
    h_start = None if start is None else floor_to(start, "hour")
    if h_start is not None and h_start < start:  # type: ignore[operator]
        h_start += timedelta(hours=1)
    h_end = None if end is None else floor_to(end, "hour")
    if h_start is not None and h_end is not None and h_start >= h_end:
        return [(start, end)], None
    edges: list[tuple[datetime | None, datetime | None]] = []
    if start is not None and h_start is not None and start < h_start:
        edges.append((start, h_start))
    if end is not None and h_end is not None and h_end < end:
        edges.append((h_end, end))
    return edges, (h_start, h_end)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def trends(
    conn: sqlite3.Connection,
    *,
    every: str = "day",
    by: Sequence[str] = (),
    filters: Filters | None = None,
    use_rollups: bool = True,
) -> dict[str, Any]:
    """Counts and shares of negative/neutral/positive and the complaint rate per period and group.

    Shares are of scored mentions (those the model gave a sentiment); `complaint_rate` is
    complaints / scored. Periods are UTC; weeks start on Monday.
    """
    dims = _check(every, by)
    filters = filters or Filters()
    # Several brands without grouping by brand would count a mention once per brand in the rollup.
    rollup_ok = use_rollups and not (len(filters.brands) > 1 and "brand" not in dims)
    parts: list[tuple[Any, ...]] = []
    if rollup_ok:
        edges, middle = _ranges(filters)
        for start, end in edges:
            parts += _raw_part(conn, every, dims, filters, start, end)
        if middle is not None:
            parts += _rollup_part(conn, every, dims, filters, *middle)
    else:
        parts = _raw_part(conn, every, dims, filters, filters.since, filters.until)
    totals: dict[_Key, list[int]] = {}
    width = len(dims) + 1
    for part in parts:
        key = tuple(part[:width])
        acc = totals.setdefault(key, [0] * len(COUNT_COLUMNS))
        for i, value in enumerate(part[width:]):
            acc[i] += int(value or 0)
    rows = []
    for key in sorted(totals, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        counts = dict(zip(COUNT_COLUMNS, totals[key], strict=True))
        if counts["mentions"] == 0:
            continue  # only rows emptied by deletions
        row: dict[str, Any] = {"bucket": key[0], **dict(zip(dims, key[1:], strict=True)), **counts}
        row["negative_share"] = _share(counts["negative"], counts["scored"])
        row["neutral_share"] = _share(counts["neutral"], counts["scored"])
        row["positive_share"] = _share(counts["positive"], counts["scored"])
        row["complaint_rate"] = _share(counts["complaints"], counts["scored"])
        rows.append(row)
    return {"report": "trends", "every": every, "by": list(dims), "filters": filters.describe(), "rows": rows}
