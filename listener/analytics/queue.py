"""The work queue: open clocks split into tabs (our complaints, other clocks, competitors, unsure), most urgent first.

The "unsure" tab is the review list: our open clocks the model was unsure of (timed, never alerted
until someone confirms them) and unsure judgements that opened no clock (probably not complaints),
which wait there until someone confirms or rejects them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from listener.analytics.filters import FilterError, Filters, in_clause, in_clauses
from listener.analytics.listing import COMPLAINT_COLUMNS, clock_status
from listener.analytics.schema_sql import LANGUAGE_EXPR
from listener.timefmt import iso

TABS = ("complaints", "other", "competitors", "unsure")
UNASSIGNED = "(unassigned)"
_LANGUAGE = LANGUAGE_EXPR.format(c="c", m="m")
_FACET_SQL = {
    "brand": "k.brand",
    "source": "k.source",
    "policy": "COALESCE(k.policy, 'default')",
    "assignee": f"COALESCE(NULLIF(k.assigned_to, ''), '{UNASSIGNED}')",
    "language": _LANGUAGE,
}
# The clock columns the queue shares with `listener complaints` come from one place; the rest are the queue's own.
_SHARED = ("mention_key", "brand", "source", "language", "author", "text", "url", "opened_at", "warn_at", "deadline",
           "state")
_COLUMNS = {name: COMPLAINT_COLUMNS[name] for name in _SHARED} | {
    "policy": "COALESCE(k.policy, 'default')",
    "is_complaint": COMPLAINT_COLUMNS["is_complaint"],
    "assigned_to": COMPLAINT_COLUMNS["assigned_to"],
    "acked_at": "k.acked_at",
    "acked_by": "k.acked_by",
    "snoozed_until": "k.snoozed_until",
    "warned_at": COMPLAINT_COLUMNS["warned_at"],
    "breached_at": COMPLAINT_COLUMNS["breached_at"],
    "unsure": COMPLAINT_COLUMNS["unsure"],
}
# Unsure judgements without a clock and without a person's correction: the review list's other half.
_REVIEW_COLUMNS = {
    "mention_key": "m.key",
    "brand": "pb.brand",
    "source": "m.source",
    "language": _LANGUAGE,
    "author": "m.author",
    "text": "m.text",
    "url": "m.url",
    "created_at": "m.created_at",
    "sentiment": "c.sentiment",
    "p_complaint": "c.p_complaint",
    "model_complaint": "c.complaint",
}
# pb: the mention's first brand by name that is not a competitor's (as the case engine picks it). The
# query starts from the unsure judgements (a partial index), never from every mention's brands.
_REVIEW_FROM = (
    " FROM classifications c JOIN mentions m ON m.key = c.mention_key"
    " JOIN mention_brands pb ON pb.mention_key = c.mention_key AND pb.brand = ("
    "SELECT MIN(b.brand) FROM mention_brands b WHERE b.mention_key = c.mention_key AND {ours})"
    " WHERE c.unsure = 1 AND c.scored = 1"
    " AND NOT EXISTS (SELECT 1 FROM complaints k WHERE k.mention_key = m.key)"
    " AND NOT EXISTS (SELECT 1 FROM case_members cm WHERE cm.mention_key = m.key)"
    " AND NOT EXISTS (SELECT 1 FROM corrections x WHERE x.mention_key = m.key AND x.complaint IS NOT NULL)"
)
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
    if tab == "unsure":
        return f"{ours} AND COALESCE(k.unsure, 0) = 1"
    return f"{ours} AND COALESCE(k.is_complaint, 1) = {1 if tab == 'complaints' else 0}"


def _review(conn: sqlite3.Connection, f: Filters, competitors: frozenset[str], limit: int
            ) -> tuple[list[dict[str, Any]], int]:
    """Unsure judgements that opened no clock, newest first (`limit` 0: none), and how many there are
    (brand, source, language and time filters apply; a mention naming only competitors is never listed)."""
    params: list[object] = []
    ours = f"NOT {in_clause('b.brand', tuple(sorted(competitors)), params)}" if competitors else "1"
    where = []
    # Unary + keeps SQLite off the mentions' time and source indexes: the unsure judgements of the
    # range (a partial index on when they were judged) are the place to start, not a month of mentions.
    if f.since:
        # A post is judged after it was written, so this only narrows the range to read.
        where.append("c.classified_at >= ? AND +m.created_at >= ?")
        params += [iso(f.since), iso(f.since)]
    if f.until:
        where.append("+m.created_at < ?")
        params.append(iso(f.until))
    where += in_clauses((("pb.brand", f.brands), ("+m.source", f.sources), (_LANGUAGE, f.languages)), params)
    clause = _REVIEW_FROM.format(ours=ours) + "".join(f" AND {w}" for w in where)
    select = ", ".join(f"{expr} AS [{name}]" for name, expr in _REVIEW_COLUMNS.items())
    names = list(_REVIEW_COLUMNS)
    rows = [dict(zip(names, r, strict=True)) for r in conn.execute(
        f"SELECT {select}{clause} ORDER BY m.created_at DESC, m.key LIMIT ?", [*params, limit])] if limit else []
    for row in rows:
        row.update(unsure=True, review=True, model_complaint=bool(row["model_complaint"]))
    total = conn.execute(f"SELECT COUNT(*){clause}", params).fetchone()[0]
    return rows, total


def _filters(f: Filters, q: QueueQuery, params: list[object]) -> list[str]:
    where = ["k.state = 'open'"]
    if f.since:
        where.append("k.opened_at >= ?")
        params.append(iso(f.since))
    if f.until:
        where.append("k.opened_at < ?")
        params.append(iso(f.until))
    facets = (
        ("brand", f.brands), ("source", f.sources), ("language", f.languages),
        ("policy", q.policies), ("assignee", q.assignees),
    )
    where += in_clauses(((_FACET_SQL[name], values) for name, values in facets), params)
    return where


def _rows(conn: sqlite3.Connection, sql: str, params: list[object], now: datetime) -> list[dict[str, Any]]:
    names = list(_COLUMNS)
    rows = [dict(zip(names, r, strict=True)) for r in conn.execute(sql, params)]
    for row in rows:
        row["clock"], row["seconds_left"] = clock_status(row, now)
        row["is_complaint"] = bool(row["is_complaint"])
        row["unsure"] = bool(row["unsure"])
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
    in this tab within the range, for the pickers. `review` (the "unsure" tab only) lists the unsure
    judgements that opened no clock, newest first; the "unsure" count includes them.
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
    # Clock-less review items have no policy or assignee: those filters leave them out.
    review, review_total = (_review(conn, f, rivals, limit if q.tab == "unsure" else 0)
                            if not (q.policies or q.assignees) else ([], 0))
    counts["unsure"] += review_total
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
        "review": review,
        "totals": {**totals, "review": review_total if q.tab == "unsure" else 0},
        "counts": counts,
        "facets": facets,
        "now": iso(now),
        "filters": {**f.describe(), "policy": list(q.policies), "assignee": list(q.assignees)},
    }
