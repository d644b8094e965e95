"""The SLA report: response rate, median and p90 first response, share within target, breaches.

Times are wall-clock seconds from the complaint's post to the first brand reply (or manual
acknowledgement). Business-time elapsed needs the policy/calendar engine, which does not exist
yet, so it is not reported. Complaints are counted in the period in which they were opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from listener.analytics.filters import EVERY, FilterError, Filters, in_clause
from listener.analytics.schema_sql import BUCKET_SQL, LANGUAGE_EXPR
from listener.analytics.stats import percentile
from listener.store import iso

DIMENSIONS: tuple[str, ...] = ("brand", "source", "assignee", "language")
CLOCK_NOTE = "wall-clock time; business-hours elapsed is not available yet (needs the policy/calendar engine)"
_ASSIGNEE = "CASE WHEN k.closed_by LIKE 'reply by %' THEN substr(k.closed_by, 10) ELSE k.closed_by END"
_LANGUAGE = LANGUAGE_EXPR.format(c="c", m="m")


@dataclass(slots=True)
class _Group:
    complaints: int = 0
    replied: int = 0
    acknowledged: int = 0
    open: int = 0
    within: int = 0
    late: int = 0
    times: list[float] = field(default_factory=list)

    def add(self, state: str, closed_at: str | None, deadline: str, seconds: float | None, now: str) -> None:
        self.complaints += 1
        if state == "replied":
            self.replied += 1
        elif state == "acknowledged":
            self.acknowledged += 1
        elif state == "open":
            self.open += 1
        if state in ("replied", "acknowledged") and seconds is not None:
            self.times.append(float(seconds))
        if closed_at is not None:
            if closed_at <= deadline:
                self.within += 1
            else:
                self.late += 1
        elif deadline <= now:
            self.late += 1

    def summary(self) -> dict[str, Any]:
        answered = self.replied + self.acknowledged
        times = sorted(self.times)
        decided = self.within + self.late
        return {
            "complaints": self.complaints,
            "answered": answered,
            "replied": self.replied,
            "acknowledged": self.acknowledged,
            "open": self.open,
            "response_rate": answered / self.complaints if self.complaints else None,
            "median_response_s": percentile(times, 0.5),
            "p90_response_s": percentile(times, 0.9),
            "within_target": self.within,
            "breaches": self.late,
            # Complaints still open before their deadline are not decided yet: left out.
            "within_target_share": self.within / decided if decided else None,
        }


def _check(every: str | None, by: Sequence[str]) -> tuple[str, ...]:
    if every is not None and every not in EVERY:
        raise FilterError(f"unknown period {every!r}: use one of {', '.join(EVERY)}")
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise FilterError(f"cannot group by {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    return tuple(dict.fromkeys(by))


def _rows(conn: sqlite3.Connection, every: str | None, dims: tuple[str, ...], f: Filters) -> Iterable[tuple[Any, ...]]:
    columns = {"brand": "k.brand", "source": "k.source", "assignee": _ASSIGNEE, "language": _LANGUAGE}
    bucket = BUCKET_SQL[every].format(t="k.opened_at") if every else "NULL"
    params: list[object] = []
    where = []
    if f.since:
        where.append("k.opened_at >= ?")
        params.append(iso(f.since))
    if f.until:
        where.append("k.opened_at < ?")
        params.append(iso(f.until))
    for column, values in (("k.brand", f.brands), ("k.source", f.sources), (_LANGUAGE, f.languages)):
        clause = in_clause(column, values, params)
        if clause:
            where.append(clause)
    # The joins are only needed for the language; skip them otherwise (they dominate the cost).
    joins = ""
    if "language" in dims or f.languages:
        joins = (
            " LEFT JOIN mentions m ON m.key = k.mention_key"
            " LEFT JOIN classifications c ON c.mention_key = k.mention_key"
        )
    sql = (
        f"SELECT {bucket}{''.join(', ' + columns[d] for d in dims)}, k.state, k.closed_at, k.deadline, "
        f"k.response_seconds FROM complaints k{joins}" + (f" WHERE {' AND '.join(where)}" if where else "")
    )
    return conn.execute(sql, params)


def sla_report(
    conn: sqlite3.Connection,
    *,
    by: Sequence[str] = ("brand",),
    every: str | None = None,
    filters: Filters | None = None,
    competitors: Iterable[str] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """First-response statistics per group (and per period when `every` is given).

    A breach is a complaint answered after its deadline, or still open past it at `now`.
    `within_target_share` = within target / (within target + breaches).
    """
    dims = _check(every, by)
    filters = filters or Filters()
    rivals = frozenset(competitors)
    now_iso = iso(now or datetime.now(UTC))
    groups: dict[tuple[Any, ...], _Group] = {}
    total = _Group()
    width = len(dims) + 1
    for row in _rows(conn, every, dims, filters):
        key = tuple(row[:width])
        state, closed_at, deadline, seconds = row[width:]
        groups.setdefault(key, _Group()).add(state, closed_at, deadline, seconds, now_iso)
        total.add(state, closed_at, deadline, seconds, now_iso)

    def order(key: tuple[Any, ...]) -> tuple[Any, ...]:
        named = dict(zip(dims, key[1:], strict=True))
        return (
            str(key[0] or ""),
            named.get("brand") in rivals,  # our brands first, competitors beside them
            tuple("" if v is None else str(v) for v in key[1:]),
        )

    rows = []
    for key in sorted(groups, key=order):
        row: dict[str, Any] = {"bucket": key[0]} if every else {}
        row.update(zip(dims, key[1:], strict=True))
        if "brand" in dims:
            row["competitor"] = row["brand"] in rivals
        row.update(groups[key].summary())
        rows.append(row)
    return {
        "report": "sla",
        "clock": "wall",
        "note": CLOCK_NOTE,
        "every": every,
        "by": list(dims),
        "filters": filters.describe(),
        "as_of": now_iso,
        "competitors": sorted(rivals),
        "rows": rows,
        "total": total.summary(),
    }
