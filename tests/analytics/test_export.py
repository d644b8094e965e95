"""`listener export`: CSV, JSON Lines and Parquet carry the same rows, filtered by time and brand."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli.analytics import export_command
from tests.analytics.seed import Seeded

RANGE = ["--since", "2025-11-01", "--until", "2025-12-01"]


def _expected_keys(seeded: Seeded, sql: str, *params: str) -> list[str]:
    conn = sqlite3.connect(seeded.path)
    try:
        return [r[0] for r in conn.execute(sql, params)]
    finally:
        conn.close()


def test_csv_and_jsonl_of_a_month_of_mentions(seeded: Seeded) -> None:
    expected = _expected_keys(
        seeded,
        "SELECT key FROM mentions WHERE created_at >= '2025-11-01' AND created_at < '2025-12-01' "
        "ORDER BY created_at, key",
    )
    runner = CliRunner()
    out = runner.invoke(export_command, ["mentions", "--db", str(seeded.path), *RANGE, "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert [r["key"] for r in rows] == expected
    assert {"sentiment", "complaint", "brands", "language", "text"} <= set(rows[0])
    out = runner.invoke(export_command, ["mentions", "--db", str(seeded.path), *RANGE, "--format", "jsonl"])
    lines = [json.loads(line) for line in out.output.splitlines()]
    assert [r["key"] for r in lines] == expected
    assert lines[0]["text"] == rows[0]["text"]


def test_complaints_by_brand_and_state_to_a_file(seeded: Seeded, tmp_path: Path) -> None:
    expected = _expected_keys(
        seeded,
        "SELECT mention_key FROM complaints WHERE brand = 'globex' AND state = 'open' ORDER BY opened_at, mention_key",
    )
    target = tmp_path / "open.jsonl"
    out = CliRunner().invoke(
        export_command,
        [
            "complaints",
            "--db",
            str(seeded.path),
            "--brand",
            "globex",
            "--state",
            "open",
            "--format",
            "jsonl",
            "-o",
            str(target),
        ],
    )
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["mention_key"] for r in rows] == expected and expected
    assert all(r["state"] == "open" and r["closed_at"] is None for r in rows)


def test_parquet(seeded: Seeded, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional parquet extra")
    target = tmp_path / "m.parquet"
    out = CliRunner().invoke(
        export_command, ["mentions", "--db", str(seeded.path), *RANGE, "--format", "parquet", "-o", str(target)]
    )
    assert out.exit_code == 0, out.output
    table = pq.read_table(target)
    expected = _expected_keys(
        seeded,
        "SELECT key FROM mentions WHERE created_at >= '2025-11-01' AND created_at < '2025-12-01' "
        "ORDER BY created_at, key",
    )
    assert table.column("key").to_pylist() == expected
    assert str(table.schema.field("p_complaint").type) == "double"


def test_parquet_needs_a_file(seeded: Seeded) -> None:
    out = CliRunner().invoke(export_command, ["mentions", "--db", str(seeded.path), "--format", "parquet"])
    assert out.exit_code == 1 and "--output" in out.output
