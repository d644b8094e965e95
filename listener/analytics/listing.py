"""Mentions and complaints as rows: filtered, keyset-paged (API) or streamed whole (exports)."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from listener.analytics.filters import FilterError, Filters, in_clause, in_clauses
from listener.analytics.schema_sql import ASSIGNEE_SQL, LANGUAGE_EXPR
from listener.timefmt import iso, parse_iso

_LANGUAGE = LANGUAGE_EXPR.format(c="c", m="m")
_BRANDS = (
    "(SELECT group_concat(brand, ',') FROM (SELECT brand FROM mention_brands b "
    "WHERE b.mention_key = m.key ORDER BY brand))"
)
MENTION_COLUMNS: dict[str, str] = {
    "key": "m.key",
    "source": "m.source",
    "external_id": "m.external_id",
    "created_at": "m.created_at",
    "brands": _BRANDS,
    "author": "m.author",
    "author_name": "m.author_name",
    "author_followers": "m.author_followers",
    "url": "m.url",
    "text": "m.text",
    "language": _LANGUAGE,
    "in_reply_to": "m.in_reply_to",
    "sentiment": "c.sentiment",
    "p_negative": "c.p_negative",
    "p_neutral": "c.p_neutral",
    "p_positive": "c.p_positive",
    "complaint": "c.complaint",
    "p_complaint": "c.p_complaint",
    "model_id": "c.model_id",
    "classified_at": "m.classified_at",
}
COMPLAINT_COLUMNS: dict[str, str] = {
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
    "warned_at": "k.warned_at",
    "breached_at": "k.breached_at",
    "closed_at": "k.closed_at",
    "close_reason": "k.close_reason",
    "assignee": ASSIGNEE_SQL.format(k="k"),
    "response_seconds": "k.response_seconds",
    "business_seconds": "k.business_seconds",
    "policy": "k.policy",
    "kind": "k.kind",
    "is_complaint": "COALESCE(k.is_complaint, 1)",
    "assigned_to": "k.assigned_to",
    "unsure": "COALESCE(k.unsure, 0)",  # the model was unsure, nobody confirmed it: never alerted
}
STATES = ("open", "replied", "acknowledged", "marked_replied", "not_complaint")
Sentiment = Literal["negative", "neutral", "positive"]


def encode_token(values: Iterable[Any]) -> str:
    """Opaque page token (the sort key of the last row sent)."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_token(token: str, size: int) -> list[Any]:
    """Inverse of `encode_token`; FilterError when it was not made by us."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise FilterError("invalid page token") from None
    if not isinstance(data, list) or len(data) != size or not all(isinstance(v, str) for v in data):
        raise FilterError("invalid page token")
    return data


@dataclass(frozen=True, slots=True)
class MentionQuery:
    """Mention filters beyond the shared ones."""

    sentiment: str | None = None
    complaint: bool | None = None


def _mention_where(f: Filters, q: MentionQuery, params: list[object]) -> list[str]:
    where = []
    if f.since:
        where.append("m.created_at >= ?")
        params.append(iso(f.since))
    if f.until:
        where.append("m.created_at < ?")
        params.append(iso(f.until))
    if f.brands:
        where.append(
            "EXISTS (SELECT 1 FROM mention_brands b WHERE b.mention_key = m.key AND "
            + in_clause("b.brand", f.brands, params)
            + ")"
        )
    where += in_clauses((("m.source", f.sources), (_LANGUAGE, f.languages)), params)
    if q.sentiment is not None:
        if q.sentiment not in ("negative", "neutral", "positive"):
            raise FilterError("sentiment must be negative, neutral or positive")
        where.append("c.sentiment = ?")
        params.append(q.sentiment)
    if q.complaint is not None:
        where.append("COALESCE(c.complaint, 0) = ?")
        params.append(int(q.complaint))
    return where


def _select(columns: dict[str, str]) -> str:
    return ", ".join(f"{expr} AS [{name}]" for name, expr in columns.items())


def iter_mentions(
    conn: sqlite3.Connection, f: Filters, q: MentionQuery = MentionQuery()
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Every matching mention, oldest first, streamed (exports)."""
    params: list[object] = []
    where = _mention_where(f, q, params)
    sql = (
        f"SELECT {_select(MENTION_COLUMNS)} FROM mentions m LEFT JOIN classifications c ON c.mention_key = m.key"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY m.created_at, m.key"
    )
    return list(MENTION_COLUMNS), iter(conn.execute(sql, params))


def list_mentions(
    conn: sqlite3.Connection, f: Filters, q: MentionQuery = MentionQuery(), *, limit: int = 100, page: str | None = None
) -> dict[str, Any]:
    """One page of matching mentions, newest first, with the token of the next page."""
    params: list[object] = []
    where = _mention_where(f, q, params)
    if page:
        created, key = decode_token(page, 2)
        where.append("(m.created_at < ? OR (m.created_at = ? AND m.key < ?))")
        params += [created, created, key]
    sql = (
        f"SELECT {_select(MENTION_COLUMNS)} FROM mentions m LEFT JOIN classifications c ON c.mention_key = m.key"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY m.created_at DESC, m.key DESC LIMIT ?"
    )
    params.append(limit + 1)
    names = list(MENTION_COLUMNS)
    rows = [dict(zip(names, r, strict=True)) for r in conn.execute(sql, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["brands"] = row["brands"].split(",") if row["brands"] else []
        row["complaint"] = None if row["complaint"] is None else bool(row["complaint"])
    token = encode_token([rows[-1]["created_at"], rows[-1]["key"]]) if more and rows else None
    return {"items": rows, "next": token, "filters": f.describe()}


def _complaint_where(f: Filters, state: str | None, params: list[object]) -> tuple[list[str], str]:
    where = []
    joins = " JOIN mentions m ON m.key = k.mention_key LEFT JOIN classifications c ON c.mention_key = k.mention_key"
    if state is not None:
        if state not in STATES:
            raise FilterError(f"state must be one of {', '.join(STATES)}")
        where.append("k.state = ?")
        params.append(state)
    if f.since:
        where.append("k.opened_at >= ?")
        params.append(iso(f.since))
    if f.until:
        where.append("k.opened_at < ?")
        params.append(iso(f.until))
    where += in_clauses((("k.brand", f.brands), ("k.source", f.sources), (_LANGUAGE, f.languages)), params)
    return where, joins


def iter_complaints(
    conn: sqlite3.Connection, f: Filters, state: str | None = None
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Every matching complaint clock, oldest first, streamed (exports)."""
    params: list[object] = []
    where, joins = _complaint_where(f, state, params)
    sql = (
        f"SELECT {_select(COMPLAINT_COLUMNS)} FROM complaints k{joins}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY k.opened_at, k.mention_key"
    )
    return list(COMPLAINT_COLUMNS), iter(conn.execute(sql, params))


def clock_status(row: dict[str, Any], now: datetime) -> tuple[str, float | None]:
    """`ok`, `warning`, `breach` (open clocks) or `closed`, and seconds left before the deadline."""
    if row["state"] != "open":
        return "closed", None
    deadline = parse_iso(row["deadline"])
    warn_at = parse_iso(row["warn_at"])
    left = (deadline - now).total_seconds() if deadline else None
    if deadline and now >= deadline:
        return "breach", left
    if warn_at and now >= warn_at:
        return "warning", left
    return "ok", left


def list_complaints(
    conn: sqlite3.Connection,
    f: Filters,
    *,
    state: str | None = None,
    competitors: Iterable[str] = (),
    now: datetime | None = None,
    limit: int = 100,
    page: str | None = None,
) -> dict[str, Any]:
    """One page of complaints: open ones by deadline (most urgent first), others newest first."""
    now = now or datetime.now(UTC)
    rivals = frozenset(competitors)
    params: list[object] = []
    where, joins = _complaint_where(f, state, params)
    # Open clocks are a queue (earliest deadline first); everything else reads as history.
    sort_column, op, direction = ("k.deadline", ">", "ASC") if state == "open" else ("k.opened_at", "<", "DESC")
    if page:
        value, key = decode_token(page, 2)
        where.append(f"({sort_column} {op} ? OR ({sort_column} = ? AND k.mention_key {op} ?))")
        params += [value, value, key]
    sql = (
        f"SELECT {_select(COMPLAINT_COLUMNS)} FROM complaints k{joins}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {sort_column} {direction}, k.mention_key {direction} LIMIT ?"
    )
    params.append(limit + 1)
    names = list(COMPLAINT_COLUMNS)
    rows = [dict(zip(names, r, strict=True)) for r in conn.execute(sql, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["competitor"] = row["brand"] in rivals
        row["unsure"] = bool(row["unsure"])
        row["clock"], row["seconds_left"] = clock_status(row, now)
    token = None
    if more and rows:
        last = rows[-1]
        token = encode_token([last["deadline"] if state == "open" else last["opened_at"], last["mention_key"]])
    return {"items": rows, "next": token, "now": iso(now), "filters": f.describe()}
