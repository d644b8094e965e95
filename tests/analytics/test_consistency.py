"""The question of docs/analytics.md gets the same numbers from the CLI, the API and the documented SQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from listener.api.server import build_app
from listener.cli.analytics import query_command, sla_report_command, trends_command
from tests.analytics.conftest import analytics_settings
from tests.analytics.seed import Seeded

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"
SINCE, UNTIL = "2025-10-06", "2025-12-29"  # twelve whole weeks


def documented_sql(name: str) -> str:
    """The ```sql block of docs/analytics.md that starts with `-- name: <name>`."""
    for block in re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        if block.startswith(f"-- name: {name}\n"):
            return block
    raise AssertionError(f"docs/analytics.md has no SQL block named {name}")


def _sql_file(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.sql"
    path.write_text(documented_sql(name), encoding="utf-8")
    return str(path)


def _cli(command: Any, args: list[str]) -> Any:
    out = CliRunner().invoke(command, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def _same(expected: list[dict[str, Any]], actual: list[dict[str, Any]], columns: dict[str, str]) -> None:
    """Rows agree column by column (`columns`: SQL name -> report name); floats to 1e-12."""
    assert len(expected) == len(actual) and expected
    for left, right in zip(expected, actual, strict=True):
        for sql_name, report_name in columns.items():
            if isinstance(left[sql_name], float) or isinstance(right[report_name], float):
                assert left[sql_name] == pytest.approx(right[report_name], rel=1e-12, abs=1e-12), sql_name
            else:
                assert left[sql_name] == right[report_name], sql_name


@pytest.fixture
def env(seeded: Seeded, tmp_path: Path) -> list[str]:
    config = tmp_path / "listener.toml"
    config.write_text(
        f'[listener]\ndatabase = "{seeded.path}"\n[brands.acme]\nkeywords = ["acme"]\n'
        '[brands.globex]\nkeywords = ["globex"]\ncompetitor = true\n'
    )
    return ["--config", str(config)]


async def test_cli_api_and_sql_agree(seeded: Seeded, env: list[str], aiohttp_client: Any, tmp_path: Path) -> None:
    client = await aiohttp_client(build_app(seeded.path, analytics_settings(seeded.path)))
    common = ["--since", SINCE, "--until", UNTIL]

    # 1. Negative share and complaint rate per source and week.
    cli = _cli(
        trends_command, [*env, *common, "--brand", "acme", "--by", "source", "--every", "week", "--format", "json"]
    )
    api = await (
        await client.get(
            "/api/trends", params={"brand": "acme", "by": "source", "every": "week", "since": SINCE, "until": UNTIL}
        )
    ).json()
    sql = _cli(
        query_command,
        [
            *env,
            "--file",
            _sql_file(tmp_path, "trends-per-source-weekly"),
            "-p",
            "brand=acme",
            "-p",
            f"since={SINCE}",
            "-p",
            f"until={UNTIL}",
            "--format",
            "json",
        ],
    )
    assert cli == api
    _same(
        sql,
        cli["rows"],
        {
            "week": "bucket",
            "source": "source",
            "mentions": "mentions",
            "scored": "scored",
            "negative": "negative",
            "complaints": "complaints",
            "negative_share": "negative_share",
            "complaint_rate": "complaint_rate",
        },
    )

    # 2. Median response time (and the rest of the SLA numbers) per source and week.
    cli = _cli(
        sla_report_command, [*env, *common, "--brand", "acme", "--by", "source", "--every", "week", "--format", "json"]
    )
    api = await (
        await client.get(
            "/api/sla", params={"brand": "acme", "by": "source", "every": "week", "since": SINCE, "until": UNTIL}
        )
    ).json()
    sql = _cli(
        query_command,
        [
            *env,
            "--file",
            _sql_file(tmp_path, "sla-per-source-weekly"),
            "-p",
            "brand=acme",
            "-p",
            f"since={SINCE}",
            "-p",
            f"until={UNTIL}",
            "--format",
            "json",
        ],
    )
    cli.pop("as_of"), api.pop("as_of")  # the only field that depends on when it ran
    assert cli == api
    sla_columns = {
        "complaints": "complaints",
        "answered": "answered",
        "response_rate": "response_rate",
        "median_business_s": "median_business_s",
        "p90_business_s": "p90_business_s",
        "median_response_s": "median_response_s",
        "p90_response_s": "p90_response_s",
        "within_target": "within_target",
        "breaches": "breaches",
        "within_target_share": "within_target_share",
        "not_complaint": "not_complaint",
        "unsure": "unsure",
        "other_clocks": "other_clocks",
        "other_unanswered": "other_unanswered",
    }
    _same(sql, cli["rows"], {"week": "bucket", "source": "source", **sla_columns})

    # 3. Us against the competitor.
    cli = _cli(
        sla_report_command, [*env, *common, "--brand", "acme", "--brand", "globex", "--by", "brand", "--format", "json"]
    )
    api = await (
        await client.get("/api/sla", params={"brand": "acme,globex", "by": "brand", "since": SINCE, "until": UNTIL})
    ).json()
    sql = _cli(
        query_command,
        [
            *env,
            "--file",
            _sql_file(tmp_path, "sla-us-vs-competitor"),
            "-p",
            "us=acme",
            "-p",
            "them=globex",
            "-p",
            f"since={SINCE}",
            "-p",
            f"until={UNTIL}",
            "--format",
            "json",
        ],
    )
    cli.pop("as_of"), api.pop("as_of")
    assert cli == api
    assert [(r["brand"], r["competitor"]) for r in cli["rows"]] == [("acme", False), ("globex", True)]
    _same(sql, cli["rows"], {"brand": "brand", **sla_columns})
    # The seed dismisses some clocks as not complaints: they must have been left out above.
    assert sum(r["not_complaint"] for r in cli["rows"]) > 0
    assert sum(r["unsure"] for r in cli["rows"]) > 0  # and the unsure ones nobody confirmed
    assert all(r["median_business_s"] is not None for r in cli["rows"])
