"""`listener query`: read-only connection, refusals, bound parameters, output formats."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.analytics.db import QueryRefused, connect_readonly
from listener.analytics.query import parse_params, run_query
from listener.cli.analytics import query_command
from listener.store import SyncStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "q.db"
    SyncStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    for i in range(5):
        conn.execute(
            "INSERT INTO mentions (key, source, external_id, text, author, created_at, fetched_at) "
            "VALUES (?, 'mastodon', ?, ?, '@a', ?, ?)",
            [f"mastodon:{i}", str(i), f"text {i}", f"2026-01-0{i + 1}T00:00:00.000000Z", "2026-01-10T00:00:00.000000Z"],
        )
    conn.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO mentions (key) VALUES ('x')",
        "DELETE FROM mentions",
        "UPDATE mentions SET text = 'x'",
        "DROP TABLE mentions",
        "CREATE TABLE t (x)",
        "CREATE TEMP TABLE t (x)",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA user_version = 7",
        "PRAGMA query_only = OFF",
        "PRAGMA writable_schema = ON",
        "VACUUM",
        "SELECT load_extension('x')",
        "SELECT 1; DELETE FROM mentions",
    ],
)
def test_state_changes_are_refused(db: Path, sql: str) -> None:
    before = _digest(db)
    conn = connect_readonly(db)
    with pytest.raises(QueryRefused):
        list(run_query(conn, sql, {}).rows)
    conn.close()
    assert _digest(db) == before
    check = sqlite3.connect(db)
    assert check.execute("SELECT COUNT(*) FROM mentions").fetchone()[0] == 5
    assert check.execute("PRAGMA user_version").fetchone()[0] == 0
    check.close()


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA table_info(mentions)",
        "PRAGMA user_version",
        "PRAGMA index_list('complaints')",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) SELECT * FROM n",
    ],
)
def test_reading_pragmas_and_ctes_work(db: Path, sql: str) -> None:
    conn = connect_readonly(db)
    assert list(run_query(conn, sql, {}).rows)
    conn.close()


def test_bound_parameters(db: Path) -> None:
    conn = connect_readonly(db)
    params = parse_params(["since=2026-01-03", "n:int=2"])
    result = run_query(conn, "SELECT key FROM mentions WHERE created_at >= :since ORDER BY key LIMIT :n", params)
    assert result.columns == ["key"]
    assert [r[0] for r in result.rows] == ["mastodon:2", "mastodon:3"]
    with pytest.raises(QueryRefused, match="binding"):
        run_query(conn, "SELECT :missing", {})
    conn.close()


@pytest.mark.parametrize("bad", ["novalue", "n:int=ten", "1x=2", "n:blob=1"])
def test_bad_parameters_are_explained(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_params([bad])


def test_typed_parameters() -> None:
    assert parse_params(["a=0012", "b:int=12", "c:float=0.5", "d:null=", "e=x=y"]) == {
        "a": "0012",
        "b": 12,
        "c": 0.5,
        "d": None,
        "e": "x=y",
    }


def test_cli_json_csv_and_refusal(db: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(
        query_command,
        ["--db", str(db), "SELECT key, text FROM mentions WHERE external_id = :id", "-p", "id=3", "--format", "json"],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == [{"key": "mastodon:3", "text": "text 3"}]
    out = runner.invoke(query_command, ["--db", str(db), "SELECT COUNT(*) AS n FROM mentions", "--format", "csv"])
    assert out.output.splitlines() == ["n", "5"]
    out = runner.invoke(query_command, ["--db", str(db), "DELETE FROM mentions"])
    assert out.exit_code == 1 and "read-only" in out.output
    out = runner.invoke(query_command, ["--db", str(db), "SELECT 1", "-p", "oops"])
    assert out.exit_code == 2


def test_timeout_interrupts_a_runaway_query(db: Path) -> None:
    out = CliRunner().invoke(
        query_command,
        [
            "--db",
            str(db),
            "--timeout",
            "0.2",
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n",
        ],
    )
    assert out.exit_code == 1 and "interrupted" in out.output


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    out = CliRunner().invoke(query_command, ["--db", str(tmp_path / "nope.db"), "SELECT 1"])
    assert out.exit_code == 1 and "no database" in out.output
    assert not (tmp_path / "nope.db").exists()
