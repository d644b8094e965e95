"""Reports started together on a fresh file, and next to a starting daemon: one migrates, the others wait."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlite_utils import Database

from listener.migrations import migrations
from listener.store import SyncStore

ROOT = Path(__file__).resolve().parents[2]


def pending_names(db: Path) -> list[str]:
    conn = Database(db)
    try:
        return migrations.pending(conn)
    finally:
        conn.close()


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "listener", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("fresh", ["empty", "old"])
def test_four_queries_at_once_on_a_fresh_file_all_succeed(tmp_path, fresh: str) -> None:
    """Four `listener query` at once on an empty file (or one from before the analytics views): no race."""
    db = tmp_path / "listener.db"
    if fresh == "empty":
        db.touch()
    else:  # a database written by a release that had only the first migration
        conn = Database(db)
        migrations.apply(conn, stop_before="m002_analytics_rollups_and_views")
        conn.close()
    procs = [_start("query", "--db", str(db), "SELECT count(*) AS n FROM v_complaints") for _ in range(4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert "Traceback" not in err and "locked" not in err and "UNIQUE" not in err, err
        assert "n" in out
    assert pending_names(db) == []
    store = SyncStore(db)
    try:  # each migration recorded once
        names = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations")]
    finally:
        store.close()
    assert len(names) == len(set(names)) == len(migrations.pending(Database(memory=True)))


def test_migration_waits_for_another_writer_then_finds_nothing_to_do(tmp_path) -> None:
    """A second process that opens the store while the first migrates waits, then sees the versions applied."""
    import sqlite3

    db = tmp_path / "listener.db"
    db.touch()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    waiting = subprocess.Popen(
        [sys.executable, "-c", f"from listener.store import SyncStore; SyncStore({str(db)!r}).close(); print('ok')"],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=1.5)  # it waits for the lock instead of failing at once
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and out.strip() == "ok", err
    assert pending_names(db) == []


def test_report_on_a_read_only_old_database_says_what_to_run(tmp_path) -> None:
    """A report cannot migrate a database it may not write: one line saying what to do, no traceback."""
    import os
    import stat

    db = tmp_path / "listener.db"
    conn = Database(db)
    migrations.apply(conn, stop_before="m002_analytics_rollups_and_views")
    conn.close()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", str(db), str(db)], capture_output=True).returncode == 0
        if not mounted or subprocess.run(["mount", "-o", "remount,ro,bind", str(db)], capture_output=True).returncode:
            pytest.skip("cannot make a read-only bind mount here")
    else:
        db.chmod(stat.S_IRUSR)
    try:
        proc = _start("query", "--db", str(db), "SELECT 1")
        out, err = proc.communicate(timeout=120)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(db)], capture_output=True)
    assert proc.returncode != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "listener run" in err
