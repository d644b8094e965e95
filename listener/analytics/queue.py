"""The work queue: open clocks split into tabs (our complaints, other clocks, competitors), most urgent first."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from listener.analytics.filters import FilterError, Filters, in_clause
from listener.analytics.listing import clock_status
from listener.analytics.schema_sql import LANGUAGE_EXPR
from listener.timefmt import iso

TABS = ("complaints", "other", "competitors")
UNASSIGNED = "(unassigned)"
_LANGUAGE = LANGUAGE_EXPR.format(c="c", m="m")
_FACET_SQL = {
    "brand": "k.brand",
    "source": "k.source",
    "policy": "COALESCE(k.policy, 'default')",
    "assignee": f"COALESCE(NULLIF(k.assigned_to, ''), '{UNASSIGNED}')",
    "language": _LANGUAGE,
}
_COLUMNS = {
    "mention_key": "k.mention_key",
    "brand": "k.brand",
    "source": "k.source",
    "language": _LANGUAGE,
    "author": "m.author",
    "text": "m.text",
    "url": "m.url",
    "opened_at": "k.opened_at",
    "warn_at": "k.warn_at",
    "deadline": "k.deadline",
    "state": "k.state",
    "policy": "COALESCE(k.policy, 'default')",
    "is_complaint": "COALESCE(k.is_complaint, 1)",
    "assigned_to": "k.assigned_to",
    "acked_at": "k.acked_at",
    "acked_by": "k.acked_by",
    "snoozed_until": "k.snoozed_until",
    "warned_at": "k.warned_at",
    "breached_at": "k.breached_at",
}
_FROM = (
    " FROM complaints k JOIN mentions m ON m.key = k.mention_key"
    " LEFT JOIN classifications c ON c.mention_key = k.mention_key"
)


def _from(f: Filters, *, language: bool = False) -> str:
    """The joins a count needs: the mention and its labels only for the language (a count's main cost)."""
    return _FROM if language or f.languages else " FROM complaints k"


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """Which part of the queue: a tab plus the filters beyond brand, source and language."""

    tab: str = "complaints"
    policies: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()  # UNASSIGNED selects clocks nobody was given

    def __post_init__(self) -> None:
        if self.tab not in TABS:
            raise FilterError(f"tab must be one of {', '.join(TABS)}")


def _tab_clause(tab: str, competitors: frozenset[str], params: list[object]) -> str:
    rivals = in_clause("k.brand", tuple(sorted(competitors)), params) if competitors else ""
    if tab == "competitors":
        return rivals or "0"
    ours = f"NOT ({rivals})" if rivals else "1"
    return f"{ours} AND COALESCE(k.is_complaint, 1) = {1 if tab == 'complaints' else 0}"


def _filters(f: Filters, q: QueueQuery, params: list[object]) -> list[str]:
    where = ["k.state = 'open'"]
    if f.since:
        where.append("k.opened_at >= ?")
        params.append(iso(f.since))
    if f.until:
        where.append("k.opened_at < ?")
        params.append(iso(f.until))
    for name, values in (
        ("brand", f.brands), ("source", f.sources), ("language", f.languages),
        ("policy", q.policies), ("assignee", q.assignees),
    ):
        clause = in_clause(_FACET_SQL[name], values, params)
        if clause:
            where.append(clause)
    return where


def _rows(conn: sqlite3.Connection, sql: str, params: list[object], now: datetime) -> list[dict[str, Any]]:
    names = list(_COLUMNS)
    rows = [dict(zip(names, r, strict=True)) for r in conn.execute(sql, params)]
    for row in rows:
        row["clock"], row["seconds_left"] = clock_status(row, now)
        row["is_complaint"] = bool(row["is_complaint"])
    return rows


def queue(
    conn: sqlite3.Connection,
    f: Filters,
    q: QueueQuery,
    *,
    competitors: Iterable[str],
    now: datetime,
    limit: int = 200,
) -> dict[str, Any]:
    """Open clocks of one tab: `due` (next deadline first) and `overdue` (newest breach first), with counts.

    `counts` has every tab under the same filters; `facets` the values (and counts) each filter can take
    in this tab within the range, for the pickers.
    """
    rivals = frozenset(competitors)
    select = ", ".join(f"{expr} AS [{name}]" for name, expr in _COLUMNS.items())
    base: list[object] = []
    where = _filters(f, q, base)
    tab_params: list[object] = []
    tab = _tab_clause(q.tab, rivals, tab_params)
    clause = " WHERE " + " AND ".join([*where, tab])
    groups: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, int] = {}
    for group, test, order in (("due", "k.deadline > ?", "ASC"), ("overdue", "k.deadline <= ?", "DESC")):
        params = [*base, *tab_params, iso(now)]
        sql = f"SELECT {select}{_FROM}{clause} AND {test} ORDER BY k.deadline {order}, k.mention_key LIMIT ?"
        groups[group] = _rows(conn, sql, [*params, limit], now)
        totals[group] = conn.execute(f"SELECT COUNT(*){_from(f)}{clause} AND {test}", params).fetchone()[0]
    counts = {}
    for name in TABS:
        p: list[object] = []
        w = _filters(f, q, p)
        t = _tab_clause(name, rivals, p)
        counts[name] = conn.execute(f"SELECT COUNT(*){_from(f)} WHERE {' AND '.join([*w, t])}", p).fetchone()[0]
    facets: dict[str, list[dict[str, Any]]] = {}
    for name, expr in _FACET_SQL.items():
        p = []
        w = _filters(Filters(since=f.since, until=f.until), QueueQuery(tab=q.tab), p)
        t = _tab_clause(q.tab, rivals, p)
        joins = _from(f, language=name == "language")
        sql = f"SELECT {expr}, COUNT(*){joins} WHERE {' AND '.join([*w, t])} GROUP BY 1 ORDER BY 1"
        facets[name] = [{"value": v, "count": n} for v, n in conn.execute(sql, p)]
    return {
        "tab": q.tab,
        "due": groups["due"],
        "overdue": groups["overdue"],
        "totals": totals,
        "counts": counts,
        "facets": facets,
        "now": iso(now),
        "filters": {**f.describe(), "policy": list(q.policies), "assignee": list(q.assignees)},
    }
