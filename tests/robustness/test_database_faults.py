"""A full disk and a locked database: a clear error, no half-written batch, everything intact afterwards."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from listener.domain import Mention
from listener.store import SyncStore

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _batch(start: int, count: int, size: int = 2000) -> list[Mention]:
    return [
        Mention(source="social", external_id=str(i), text=f"acme broken {i} " + "x" * size, author=f"@u{i}",
                created_at=NOW - timedelta(minutes=1), brands=("acme",))
        for i in range(start, start + count)
    ]


def _count(store: SyncStore) -> int:
    return store.db.execute("SELECT count(*) FROM mentions").fetchone()[0]


def test_full_disk_is_a_clear_error_and_loses_nothing(tmp_path) -> None:
    """With the file capped (as a full disk would), a batch fails whole; after space returns it goes in."""
    store = SyncStore(tmp_path / "db.sqlite")
    try:
        store.ingest("social", _batch(0, 10), [], "c1", NOW)
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages + 5}")
        with pytest.raises(sqlite3.OperationalError, match="full"):
            store.ingest("social", _batch(10, 500), [], "c2", NOW)
        assert _count(store) == 10  # the failed batch left nothing behind
        assert store.get_cursor("social") == "c1"  # and did not advance the cursor past it
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store.db.execute("PRAGMA max_page_count = 1073741823")  # space is back
        assert len(store.ingest("social", _batch(10, 500), [], "c2", NOW)) == 500
        assert _count(store) == 510 and store.get_cursor("social") == "c2"
    finally:
        store.close()


def test_locked_database_is_a_clear_error_then_works(tmp_path) -> None:
    """While another process holds the write lock, ingest fails cleanly; it succeeds once the lock is gone."""
    path = tmp_path / "db.sqlite"
    store = SyncStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        store.db.execute("PRAGMA busy_timeout = 50")  # the daemon waits 30 s; the test need not
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.ingest("social", _batch(0, 5), [], "c1", NOW)
        other.execute("ROLLBACK")
        assert len(store.ingest("social", _batch(0, 5), [], "c1", NOW)) == 5
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        other.close()
        store.close()


def test_read_only_database_file_is_a_clear_error(tmp_path) -> None:
    """A database opened read-only (mounted ro, wrong owner) refuses writes with a clear error, unchanged."""
    path = tmp_path / "db.sqlite"
    store = SyncStore(path)
    store.ingest("social", _batch(0, 3), [], "c1", NOW)
    store.close()
    # Root ignores file modes, so read-only is simulated the way a ro mount behaves: SQLITE_READONLY.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("INSERT INTO cursors (source, cursor, updated_at) VALUES ('x', 'y', 'z')")
    finally:
        conn.close()
    reopened = SyncStore(path)
    try:
        assert _count(reopened) == 3
    finally:
        reopened.close()


@pytest.fixture
def read_only_mount(tmp_path):  # type: ignore[no-untyped-def]
    """A tmpfs holding a valid database, remounted read-only (needs root; skipped otherwise)."""
    import subprocess

    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        SyncStore(mount / "db.sqlite").close()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_run_on_read_only_database_exits_with_a_clear_message(read_only_mount, tmp_path) -> None:
    """`listener run --once` on a read-only database exits non-zero with one clear line, no traceback."""
    import subprocess
    import sys
    from pathlib import Path

    config = tmp_path / "listener.toml"
    config.write_text(f'[listener]\ndatabase = "{read_only_mount / "db.sqlite"}"\n[brands.acme]\nkeywords = ["acme"]\n')
    done = subprocess.run([sys.executable, "-m", "listener", "run", "--once", "--config", str(config)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "db.sqlite" in done.stderr
