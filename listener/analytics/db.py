"""Read-only SQLite connections for reports, `listener query` and the REST API.

Three layers keep analyst SQL from changing anything: the file is opened with `mode=ro`,
`PRAGMA query_only` is set, and an authorizer refuses ATTACH, DETACH, writes and any pragma
that is not on a short list of harmless read-only ones.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from listener.errors import ListenerError

# Pragmas that only read; those in _PRAGMA_WITH_ARG take a table or index name as argument.
_PRAGMA_READ = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "database_list",
        "collation_list",
        "function_list",
        "pragma_list",
        "compile_options",
        "user_version",
        "schema_version",
        "application_id",
        "page_count",
        "page_size",
        "freelist_count",
        "encoding",
        "data_version",
        "journal_mode",
        "query_only",
        "integrity_check",
        "quick_check",
    }
)
_PRAGMA_WITH_ARG = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "integrity_check",
        "quick_check",
    }
)
_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "fts3_tokenizer"})


class QueryRefused(ListenerError):
    """A statement that would change the database or reach outside it."""


class DatabaseMissing(ListenerError):
    """No database file where one was expected."""


class DatabaseNotReady(DatabaseMissing):
    """A database whose schema is behind and that this process cannot migrate (read-only)."""


def _authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _PRAGMA_READ and (arg2 is None or name in _PRAGMA_WITH_ARG):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _DENIED_FUNCTIONS else sqlite3.SQLITE_OK
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def ensure_schema(path: Path | str) -> None:
    """Make sure the analyst views exist: check the applied migrations read-only, apply pending ones under the lock.

    The migration lock (`listener.migrations`) lets several reports start at once on a fresh file
    and next to a starting daemon; a database this process cannot write is refused with one line.
    """
    from listener.migrations import migrate, pending_names

    file = Path(path)
    if not file.exists():
        raise DatabaseMissing(f"no database at {file} (run the daemon first, or pass --db / set LISTENER_DB)")
    try:
        pending = pending_names(file)
    except sqlite3.Error as err:
        raise DatabaseNotReady(f"cannot read the database at {file} ({err})") from None
    if not pending:
        return
    try:
        migrate(file)
    except sqlite3.OperationalError as err:
        raise DatabaseNotReady(
            f"the database at {file} needs its schema brought up to date and cannot be written here ({err}); "
            "start the daemon on it once (`listener run`), or run this command where the file is writable"
        ) from None


def connect_readonly(path: Path | str, *, timeout_s: float | None = None) -> sqlite3.Connection:
    """Open `path` read-only, with writes, ATTACH and state-changing pragmas refused.

    `timeout_s` interrupts a statement that runs longer (checked every few thousand VM steps).
    """
    file = Path(path)
    if not file.exists():
        raise DatabaseMissing(f"no database at {file} (run the daemon first, or pass --db / set LISTENER_DB)")
    conn = sqlite3.connect(f"file:{quote(str(file.resolve()))}?mode=ro", uri=True, timeout=10, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.set_authorizer(_authorizer)
    if timeout_s is not None:
        deadline = time.monotonic() + timeout_s
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    return conn
