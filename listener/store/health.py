"""Source health rows and stage heartbeats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from listener.store.cases import CaseStore
from listener.store.db import iso, parse_iso


class HealthStore(CaseStore):
    """Connector health and the daemon's heartbeats."""

    def save_health(self, source: str, **fields: Any) -> None:
        """Upsert a connector's health row."""
        self.db.table("source_health").upsert({"source": source, **fields}, pk="source")

    def health(self) -> list[dict[str, Any]]:
        """Every connector's health row."""
        return list(self.db["source_health"].rows)

    def source_activity(self, source: str, now: datetime) -> dict[str, Any]:
        """Latest mention time and mention counts over the last 24 hours and 7 days."""
        row = self.db.execute(
            """SELECT MAX(created_at),
                      SUM(created_at >= :day), SUM(created_at >= :week)
               FROM mentions WHERE source = :source AND created_at >= :week""",
            {"source": source, "day": iso(now - timedelta(days=1)), "week": iso(now - timedelta(days=7))},
        ).fetchone()
        last = row[0] if row and row[0] else None
        if last is None:
            found = self.db.execute("SELECT MAX(created_at) FROM mentions WHERE source = ?", [source]).fetchone()
            last = found[0] if found else None
        return {"last_mention_at": parse_iso(last), "last_24h": (row[1] or 0) if row else 0,
                "last_7d": (row[2] or 0) if row else 0}

    def health_row(self, source: str) -> dict[str, Any] | None:
        """One connector's health row."""
        rows = list(self.db.query("SELECT * FROM source_health WHERE source = ?", [source]))
        return rows[0] if rows else None

    def beat(self, stage: str, now: datetime) -> None:
        """Record that a stage made progress."""
        self.db.execute(
            "INSERT INTO heartbeats (stage, at) VALUES (?, ?) ON CONFLICT(stage) DO UPDATE SET at = excluded.at",
            [stage, iso(now)],
        )

    def heartbeats(self) -> dict[str, datetime]:
        """Last progress time per stage."""
        return {s: parse_iso(a) for s, a in self.db.execute("SELECT stage, at FROM heartbeats")}  # type: ignore[misc]
