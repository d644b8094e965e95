"""Liveness checks over the heartbeats each daemon stage writes."""

from __future__ import annotations

from datetime import datetime, timedelta

from listener.store import SyncStore
from listener.timefmt import parse_iso

# Stages that beat on a timer whether or not there is work.
TIMED_STAGES = ("sla", "alerts")


def check_health(store: SyncStore, now: datetime, max_age: timedelta) -> list[str]:
    """Problems found (empty when healthy): silent stages, and a classifier that fell behind."""
    problems = []
    beats = store.heartbeats()
    for stage in TIMED_STAGES:
        at = beats.get(stage)
        if at is None:
            problems.append(f"{stage}: no heartbeat yet (is the daemon running?)")
        elif now - at > max_age:
            problems.append(f"{stage}: last heartbeat {int((now - at).total_seconds())}s ago")
    row = store.db.execute("SELECT MIN(fetched_at) FROM mentions WHERE classified_at IS NULL").fetchone()
    oldest = parse_iso(row[0]) if row and row[0] else None
    if oldest is not None and now - oldest > max_age:
        problems.append(f"classify: a mention has waited {int((now - oldest).total_seconds())}s for the classifier")
    return problems
