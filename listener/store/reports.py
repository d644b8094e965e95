"""Read models for the CLI, the demo and metrics: complaints, headline counts, recent events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from listener.store.db import parse_iso
from listener.store.rollups import RollupStore


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint's response clock as stored."""

    mention_key: str
    brand: str
    source: str
    opened_at: datetime
    warn_at: datetime
    deadline: datetime
    state: str
    warned_at: datetime | None
    breached_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    response_seconds: float | None
    author: str = ""
    text: str = ""
    url: str = ""
    unsure: bool = False  # the model was unsure and nobody has confirmed it: shown for review, never alerted


def _percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    rank = (len(values) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


class ReportStore(RollupStore):
    """Queries for people: complaints, counts, response summary, recent mentions and events."""

    def complaints(self, *, open_only: bool = False, limit: int = 1000) -> list[Complaint]:
        """Complaints, newest first; open ones most urgent first (overdue first, then by deadline)."""
        where = "WHERE c.state = 'open'" if open_only else ""
        order = "c.deadline ASC, c.opened_at ASC" if open_only else "c.opened_at DESC"
        rows = self.db.execute(
            f"""SELECT c.mention_key, c.brand, c.source, c.opened_at, c.warn_at, c.deadline, c.state,
                       c.warned_at, c.breached_at, c.closed_at, c.closed_by, c.close_reason,
                       c.response_seconds, m.author, m.text, m.url, c.unsure
                FROM complaints c JOIN mentions m ON m.key = c.mention_key {where}
                ORDER BY {order} LIMIT ?""",
            [limit],
        ).fetchall()
        return [
            Complaint(
                r[0], r[1], r[2], parse_iso(r[3]), parse_iso(r[4]), parse_iso(r[5]), r[6],  # type: ignore[arg-type]
                parse_iso(r[7]), parse_iso(r[8]), parse_iso(r[9]), r[10], r[11], r[12], r[13], r[14], r[15] or "",
                bool(r[16]),
            )
            for r in rows
        ]

    def recent_mentions(self, limit: int = 10) -> list[dict[str, Any]]:
        """Latest classified mentions with their labels (for live views)."""
        return list(
            self.db.query(
                """SELECT m.key, m.source, m.author, m.text, m.created_at, c.sentiment, c.complaint,
                          c.scored, c.unscored_reason, c.language
                   FROM mentions m JOIN classifications c ON c.mention_key = m.key
                   ORDER BY m.created_at DESC LIMIT ?""",
                [limit],
            )
        )

    def recent_events(self, limit: int = 10, *, include_mentions: bool = False) -> list[dict[str, Any]]:
        """Latest outbox events with how many sinks already have them."""
        where = "" if include_mentions else "WHERE e.kind != 'mention'"
        return list(
            self.db.query(
                f"""SELECT e.id, e.kind, e.brand, e.created_at, e.payload,
                           SUM(d.state = 'delivered') AS delivered, COUNT(d.sink) AS sinks
                    FROM events e LEFT JOIN deliveries d ON d.event_seq = e.seq {where}
                    GROUP BY e.seq ORDER BY e.seq DESC LIMIT ?""",
                [limit],
            )
        )

    def counts(self) -> dict[str, int]:
        """Headline counts: mentions, classified, complaints, open, breached."""
        q = self.db.execute
        return {
            "mentions": q("SELECT COUNT(*) FROM mentions").fetchone()[0],
            "classified": q("SELECT COUNT(*) FROM mentions WHERE classified_at IS NOT NULL").fetchone()[0],
            "complaints": q("SELECT COUNT(*) FROM complaints").fetchone()[0],
            "open": q("SELECT COUNT(*) FROM complaints WHERE state = 'open'").fetchone()[0],
            "breached": q("SELECT COUNT(*) FROM complaints WHERE breached_at IS NOT NULL").fetchone()[0],
        }

    def response_summary(self, brand: str | None = None) -> dict[str, Any]:
        """Complaints, answered within target, median and p90 response time, breaches."""
        params: list[Any] = []
        where = ""
        if brand:
            where, params = "WHERE brand = ?", [brand]
        rows = self.db.execute(
            f"SELECT state, response_seconds, deadline, closed_at, breached_at FROM complaints {where}", params
        ).fetchall()
        times = sorted(r[1] for r in rows if r[1] is not None and r[0] == "replied")
        within = sum(1 for r in rows if r[0] == "replied" and r[3] is not None and r[3] <= r[2])
        return {
            "complaints": len(rows),
            "replied": len(times),
            "within_target": within,
            "breaches": sum(1 for r in rows if r[4] is not None),
            "open": sum(1 for r in rows if r[0] == "open"),
            "median_response_s": _percentile(times, 50),
            "p90_response_s": _percentile(times, 90),
        }
