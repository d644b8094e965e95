"""Human label corrections (from `listener label` or Slack), read back as training data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

CORRECTIONS_TABLE = "corrections"


@dataclass(frozen=True, slots=True)
class Correction:
    """One corrected label: sentiment 0/1/2 (neg/neu/pos) and complaint 0/1, either may be None."""

    text: str
    sentiment: int | None
    complaint: int | None
    mention_key: str | None = None
    by: str | None = None


def ensure_table(db: sqlite_utils.Database) -> None:
    """Create the corrections table when it does not exist yet."""
    if CORRECTIONS_TABLE not in db.table_names():
        db.table(CORRECTIONS_TABLE).create(
            {
                "id": int,
                "mention_key": str,
                "text": str,
                "sentiment": int,
                "complaint": int,
                "by": str,
                "created_at": str,
            },
            pk="id",
        )
        db.table(CORRECTIONS_TABLE).create_index(["mention_key"])


def save_correction(
    db_path: Path | str,
    text: str,
    sentiment: int | None,
    complaint: int | None,
    *,
    mention_key: str | None = None,
    by: str | None = None,
) -> None:
    """Store a correction (a later one for the same mention wins when training)."""
    if sentiment is not None and sentiment not in (0, 1, 2):
        raise ValueError("sentiment must be 0, 1 or 2")
    if complaint is not None and complaint not in (0, 1):
        raise ValueError("complaint must be 0 or 1")
    import sqlite_utils  # here, not at the top: the migrations import this module on every start

    db = sqlite_utils.Database(db_path)
    try:
        ensure_table(db)
        db.table(CORRECTIONS_TABLE).insert(
            {
                "mention_key": mention_key,
                "text": text,
                "sentiment": sentiment,
                "complaint": complaint,
                "by": by,
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
    finally:
        db.close()


def load_corrections(db_path: Path | str) -> list[Correction]:
    """All corrections, the latest one per mention (corrections without a mention all count)."""
    import sqlite_utils

    db = sqlite_utils.Database(db_path)
    try:
        if CORRECTIONS_TABLE not in db.table_names():
            return []
        rows = db.execute(
            f"""
            SELECT text, sentiment, complaint, mention_key, "by" FROM {CORRECTIONS_TABLE} c
            WHERE mention_key IS NULL OR id = (
                SELECT MAX(id) FROM {CORRECTIONS_TABLE} d WHERE d.mention_key = c.mention_key)
            ORDER BY id
            """
        ).fetchall()
    finally:
        db.close()
    return [Correction(*row) for row in rows]
