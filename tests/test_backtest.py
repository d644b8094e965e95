"""`listener backtest`: stored mentions replayed through policies and the ladder, read-only."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from listener.backtest import backtest
from listener.cli.sla import backtest_command
from listener.clock import FakeClock
from listener.clocks import ClockEngine
from listener.domain import Page, Reply
from listener.sla import default_policy
from tests.test_policy_clocks import Harness, mention

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def _history(make_settings, db: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings({"listener": {"database": str(db)}, "brands": {"acme": {"keywords": ["acme"]}}})
    h = Harness(settings, FakeClock(START))
    await h.run(Page([mention(START, "1", "acme my bill is broken", author="@ann"),
                      mention(START, "2", "acme my order is broken", author="@bob"),
                      mention(START, "3", "acme my app is broken", author="@cy")], "c"))
    replies = [Reply(source="social", external_id="r1", in_reply_to="1", author="@acme",
                     created_at=START + timedelta(minutes=3)),
               Reply(source="social", external_id="r2", in_reply_to="2", author="@acme",
                     created_at=START + timedelta(minutes=8))]
    await h.at(START + timedelta(minutes=30)).run(Page([], "c1", replies=replies))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_backtest_replays_policies_and_ladder(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "bt.db"
    await _history(make_settings, db)
    before = _digest(db)
    engine = ClockEngine([default_policy(timedelta(minutes=10), timedelta(minutes=5))], {})
    report = backtest(db, engine, START - timedelta(days=1), START + timedelta(days=1))
    assert (report.clocks, report.met, report.missed, report.unanswered) == (3, 2, 1, 1)
    assert report.fired == {"warn": 2, "breach": 1}  # @bob and @cy warned, @cy breached
    assert report.compliance == 2 / 3
    strict = backtest(db, ClockEngine([default_policy(timedelta(minutes=2), timedelta(minutes=1))], {}),
                      START - timedelta(days=1), START + timedelta(days=1))
    assert (strict.met, strict.missed) == (0, 3)
    assert strict.fired == {"warn": 3, "breach": 3}
    empty = backtest(db, engine, START + timedelta(hours=1), START + timedelta(days=1))
    assert empty.clocks == 0 and empty.compliance is None
    assert _digest(db) == before  # nothing written


async def test_backtest_command_uses_the_given_config(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "bt.db"
    await _history(make_settings, db)
    config = tmp_path / "listener.toml"
    config.write_text(f'[listener]\ndatabase = "{db}"\n\n[brands.acme]\nkeywords = ["acme"]\n\n'
                      '[sla]\ntarget = "10m"\nwarn_after = "5m"\n')
    runner = CliRunner()
    result = runner.invoke(backtest_command, ["--config", str(config), "--from", "2026-03-01", "--to", "2026-03-03",
                                              "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fired"] == {"warn": 2, "breach": 1} and data["met"] == 2
    table = runner.invoke(backtest_command, ["--config", str(config), "--from", "2026-03-01", "--to", "2026-03-03"])
    assert "compliance 66.7%" in table.output and "would fire breach: 1" in table.output
    bad = runner.invoke(backtest_command, ["--config", str(config), "--from", "2026-03-03", "--to", "2026-03-01"])
    assert bad.exit_code == 2 and "--to must be after --from" in bad.output
