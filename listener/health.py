"""Liveness checks over the heartbeats each daemon stage writes, and the jobs the daemon says are failing."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from listener.faults import Fault
from listener.store import SyncStore
from listener.timefmt import iso, parse_iso

# Stages that beat on a timer whether or not there is work.
TIMED_STAGES = ("sla", "alerts")


def check_health(store: SyncStore, now: datetime, max_age: timedelta) -> list[str]:
    """Problems found (empty when healthy): failing jobs, silent stages, and a classifier that fell behind."""
    problems = failing_jobs(store.db.conn)
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


def failing_jobs(conn: sqlite3.Connection) -> list[str]:
    """One line for a failing database (naming the jobs it stops), one per other failing job."""
    rows = conn.execute("SELECT job, since, error, store FROM job_faults ORDER BY since, job").fetchall()
    lines = []
    store_rows = [r for r in rows if r[3]]
    if store_rows:
        jobs = ", ".join(r[0] for r in store_rows)
        lines.append(f"database: writes failing since {_clock(store_rows[0][1])} ({store_rows[-1][2]}); "
                     f"waiting: {jobs}")
    lines.extend(f"{job}: failing since {_clock(since)} ({error})" for job, since, error, store in rows if not store)
    return lines


def save_faults(store: SyncStore, faults: Sequence[Fault]) -> None:
    """Replace the stored failing jobs with `faults` (on the store's thread: `Store.call`).

    The daemon calls this at every failure and recovery edge; it may fail itself when the disk is
    full, and then the stale heartbeats tell `listener health` what the daemon could not.
    """
    with store.db.atomic():
        store.db.execute("DELETE FROM job_faults")
        store.db.conn.executemany(
            "INSERT INTO job_faults (job, since, error, store) VALUES (?, ?, ?, ?)",
            [(f.job, iso(f.since), f.error, int(f.store)) for f in faults],
        )


def _clock(value: str) -> str:
    at = parse_iso(value)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at else value
