"""The trends and sla-report commands: formats, chart, filters and the API settings they rely on."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.loader import parse_config
from listener.cli import COMMANDS, load_command
from listener.cli.analytics import sla_report_command, trends_command
from listener.errors import ConfigError
from tests.analytics.seed import Seeded

RANGE = ["--since", "2025-10-01", "--until", "2025-11-01"]


def test_every_command_is_exported() -> None:
    family = {name for name, path in COMMANDS.items() if path.startswith("listener.cli.analytics:")}
    assert family == {"trends", "sla-report", "query", "export", "api"}
    assert all(load_command(COMMANDS[name]).name == name for name in family)


def test_trends_table_csv_and_chart(seeded: Seeded, tmp_path: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(
        trends_command,
        ["--db", str(seeded.path), *RANGE, "--by", "language", "--every", "week"],
        env={"COLUMNS": "200"},
    )
    assert table.exit_code == 0, table.output
    assert "negative" in table.output and "2025-09-29" in table.output  # the week of 1 October starts on Monday
    out = runner.invoke(trends_command, ["--db", str(seeded.path), *RANGE, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert len(rows) == 31 and rows[0]["bucket"] == "2025-10-01"
    chart = tmp_path / "trend.png"
    out = runner.invoke(
        trends_command, ["--db", str(seeded.path), *RANGE, "--by", "source", "--chart", str(chart), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000


def test_sla_report_table_marks_competitors_and_states_the_clock(seeded: Seeded, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[listener]\ndatabase = "{seeded.path}"\n[brands.acme]\nkeywords = ["acme"]\n'
        '[brands.globex]\nkeywords = ["globex"]\ncompetitor = true\n'
    )
    out = CliRunner().invoke(sla_report_command, ["--config", str(config), *RANGE], env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert "globex (competitor)" in out.output and "wall" in out.output and "business" in out.output
    data = json.loads(
        CliRunner()
        .invoke(sla_report_command, ["--config", str(config), *RANGE, "--by", "assignee", "--format", "json"])
        .output
    )
    assert {"@AcmeSupport", "carol", "dave"} <= {r["assignee"] for r in data["rows"]}


@pytest.mark.parametrize("args", [["--since", "soon"], ["--since", "2025-10-02", "--until", "2025-10-01"]])
def test_bad_ranges_are_usage_errors(seeded: Seeded, args: list[str]) -> None:
    out = CliRunner().invoke(trends_command, ["--db", str(seeded.path), *args])
    assert out.exit_code == 2


@pytest.mark.parametrize(
    ("api", "problem"),
    [
        ({"host": "0.0.0.0"}, "requires `token`"),
        ({"host": "192.168.1.5", "token": ""}, "requires `token`"),
        ({"token": "short"}, "at least 16"),
        ({"port": 70000}, "api.port"),
    ],
)
def test_api_settings_are_validated(api: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"api": api}, env={})
    assert problem in str(err.value)


def test_api_settings_defaults_and_token_from_env() -> None:
    settings = parse_config({"api": {"host": "0.0.0.0", "token": "${TOK}"}}, env={"TOK": "x" * 32})
    assert settings.api.token is not None and settings.api.token.get_secret_value() == "x" * 32
    assert "x" * 32 not in repr(settings.api)
    default = parse_config({}, env={}).api
    assert (default.host, default.port, default.token, default.enabled) == ("127.0.0.1", 8787, None, False)
    assert parse_config({"api": {"host": "::1"}}, env={}).api.host == "::1"
