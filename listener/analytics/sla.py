"""The SLA report: response rate, median and p90 first response (business time and wall clock), breaches.

Business time comes from the policy/calendar engine (`complaints.business_seconds`); wall clock is
`response_seconds`. Only complaint clocks count in the complaint figures: a clock closed as
`not_complaint` is counted apart, so is an `unsure` one nobody has confirmed (never a breach), and
clocks of non-complaint policies (questions, praise) only report how many went unanswered.
Clocks are counted in the period in which they were opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from listener.analytics.filters import EVERY, FilterError, Filters, in_clauses
from listener.analytics.schema_sql import ASSIGNEE_SQL, BUCKET_SQL, LANGUAGE_EXPR
from listener.analytics.stats import percentile
from listener.timefmt import iso

DIMENSIONS: tuple[str, ...] = ("brand", "source", "policy", "assignee", "language")
ANSWERED_STATES = frozenset({"replied", "acknowledged", "marked_replied"})
CLOCK_NOTE = (
    "business_s: response time in business hours of the clock's calendar; response_s: wall clock. "
    "Closed as not_complaint, unsure (not confirmed by a person) and non-complaint policies are left out of the "
    "complaint figures."
)
_ASSIGNEE = ASSIGNEE_SQL.format(k="k")
_LANGUAGE = LANGUAGE_EXPR.format(c="c", m="m")


@dataclass(slots=True)
class _Group:
    complaints: int = 0
    replied: int = 0
    acknowledged: int = 0
    marked_replied: int = 0
    open: int = 0
    within: int = 0
    late: int = 0
    times: list[float] = field(default_factory=list)
    business: list[float] = field(default_factory=list)
    dismissed: int = 0
    unsure: int = 0
    other: int = 0
    other_answered: int = 0
    other_unanswered: int = 0

    def add(self, state: str, closed_at: str | None, deadline: str, wall: float | None,
            business: float | None, is_complaint: int | None, unsure: int | None, now: str) -> None:
        """Count one clock: a complaint, one dismissed as not a complaint, an unsure one nobody confirmed
        (counted apart: never a breach), or a non-complaint clock."""
        if state == "not_complaint":
            self.dismissed += 1
            return
        if unsure:
            self.unsure += 1
            return
        if is_complaint == 0:
            self.other += 1
            if state in ANSWERED_STATES:
                self.other_answered += 1
            elif state == "open":
                self.other_unanswered += 1
            return
        self.complaints += 1
        if state == "replied":
            self.replied += 1
        elif state == "acknowledged":
            self.acknowledged += 1
        elif state == "marked_replied":
            self.marked_replied += 1
        elif state == "open":
            self.open += 1
        if state in ANSWERED_STATES:
            if wall is not None:
                self.times.append(float(wall))
            if business is not None:
                self.business.append(float(business))
        if closed_at is not None:
            if closed_at <= deadline:
                self.within += 1
            else:
                self.late += 1
        elif deadline <= now:
            self.late += 1

    def summary(self) -> dict[str, Any]:
        answered = self.replied + self.acknowledged + self.marked_replied
        times = sorted(self.times)
        business = sorted(self.business)
        decided = self.within + self.late
        return {
            "complaints": self.complaints,
            "answered": answered,
            "replied": self.replied,
            "acknowledged": self.acknowledged,
            "marked_replied": self.marked_replied,
            "open": self.open,
            "response_rate": answered / self.complaints if self.complaints else None,
            "median_business_s": percentile(business, 0.5),
            "p90_business_s": percentile(business, 0.9),
            "median_response_s": percentile(times, 0.5),
            "p90_response_s": percentile(times, 0.9),
            "within_target": self.within,
            "breaches": self.late,
            # Complaints still open before their deadline are not decided yet: left out.
            "within_target_share": self.within / decided if decided else None,
            "not_complaint": self.dismissed,
            "unsure": self.unsure,
            "other_clocks": self.other,
            "other_answered": self.other_answered,
            "other_unanswered": self.other_unanswered,
        }


def _check(every: str | None, by: Sequence[str]) -> tuple[str, ...]:
    if every is not None and every not in EVERY:
        raise FilterError(f"unknown period {every!r}: use one of {', '.join(EVERY)}")
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise FilterError(f"cannot group by {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    return tuple(dict.fromkeys(by))


def _rows(conn: sqlite3.Connection, every: str | None, dims: tuple[str, ...], f: Filters) -> Iterable[tuple[Any, ...]]:
    columns = {
        "brand": "k.brand", "source": "k.source", "policy": "k.policy", "assignee": _ASSIGNEE, "language": _LANGUAGE,
    }
    bucket = BUCKET_SQL[every].format(t="k.opened_at") if every else "NULL"
    params: list[object] = []
    where = []
    if f.since:
        where.append("k.opened_at >= ?")
        params.append(iso(f.since))
    if f.until:
        where.append("k.opened_at < ?")
        params.append(iso(f.until))
    where += in_clauses((("k.brand", f.brands), ("k.source", f.sources), (_LANGUAGE, f.languages)), params)
    # The joins are only needed for the language; skip them otherwise (they dominate the cost).
    joins = ""
    if "language" in dims or f.languages:
        joins = (
            " LEFT JOIN mentions m ON m.key = k.mention_key"
            " LEFT JOIN classifications c ON c.mention_key = k.mention_key"
        )
    # k.brand comes last as well, whatever the grouping, so the total can leave competitors out.
    sql = (
        f"SELECT {bucket}{''.join(', ' + columns[d] for d in dims)}, k.state, k.closed_at, k.deadline, "
        f"k.response_seconds, k.business_seconds, k.is_complaint, k.unsure, k.brand FROM complaints k{joins}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
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

    The deadline was set by the clock's policy and calendar, so within target / breach is judged
    in business time; medians and p90s are given both in business time and wall clock.
    A breach is a complaint answered after its deadline, or still open past it at `now`.
    `within_target_share` = within target / (within target + breaches).
    The total counts our brands only: competitors are compared beside us, never summed with us.
    """
    dims = _check(every, by)
    filters = filters or Filters()
    rivals = frozenset(competitors)
    now_iso = iso(now or datetime.now(UTC))
    groups: dict[tuple[Any, ...], _Group] = {}
    total = _Group()
    width = len(dims) + 1
    for raw in _rows(conn, every, dims, filters):
        key = tuple(raw[:width])
        facts = (*raw[width:-1], now_iso)
        groups.setdefault(key, _Group()).add(*facts)
        if raw[-1] not in rivals:
            total.add(*facts)

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
        "clock": "business+wall",
        "note": CLOCK_NOTE,
        "every": every,
        "by": list(dims),
        "filters": filters.describe(),
        "as_of": now_iso,
        "competitors": sorted(rivals),
        "rows": rows,
        "total": total.summary(),
        "total_scope": "our brands (competitors left out)" if rivals else "all brands",
    }
