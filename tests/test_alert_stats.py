"""`listener alerts stats`: per rule, alerts fired, acted on with buttons, replied after, suppressed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from listener.cli.sla import alerts_group
from listener.clock import FakeClock
from listener.domain import Page
from listener.store import SyncStore
from tests.test_policy_clocks import Harness, mention

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def test_stats_count_fired_acted_and_replied(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "stats.db"
    settings = make_settings({"listener": {"database": str(db)}, "brands": {"acme": {"keywords": ["acme"]}},
                              "sla": {"target": "10m", "warn_after": "5m"}})
    clock = FakeClock(START)
    h = Harness(settings, clock)
    await h.run(Page([mention(START, "1", "acme my bill is broken"),
                      mention(START, "2", "acme my bill is broken too", author="@bob")], "c"))
    await h.at(START + timedelta(minutes=6)).run()  # both warn
    store = h.store()
    acted = store.take_action("social:1", "replied", "U1", START + timedelta(minutes=7), None, request_key="r1")
    assert acted == "done"
    store.close()
    await h.at(START + timedelta(minutes=11)).run()  # social:2 breaches
    store = h.store()
    assert store.take_action("social:2", "ack", "U2", START + timedelta(minutes=12), None, request_key="r2") == "done"
    store.close()

    config = tmp_path / "listener.toml"
    config.write_text(f'[listener]\ndatabase = "{db}"\n\n[brands.acme]\nkeywords = ["acme"]\n')
    runner = CliRunner()
    result = runner.invoke(alerts_group, ["stats", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["rule"]: r for r in json.loads(result.output)}
    assert rows["warn"] == {"rule": "warn", "fired": 2, "acted_on": 2, "replied_in_target": 1,
                            "replied_after": 1, "suppressed": 0}
    assert rows["breach"] == {"rule": "breach", "fired": 1, "acted_on": 1, "replied_in_target": 0,
                              "replied_after": 0, "suppressed": 0}

    later = runner.invoke(alerts_group, ["stats", "--config", str(config), "--since", "2026-03-02T10:08:00"])
    assert later.exit_code == 0, later.output
    assert "breach" in later.output and "warn" not in later.output

    bad = runner.invoke(alerts_group, ["stats", "--config", str(config), "--since", "yesterday"])
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_stats_on_an_empty_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "listener.toml"
    config.write_text(f'[listener]\ndatabase = "{tmp_path / "e.db"}"\n\n[brands.acme]\nkeywords = ["acme"]\n')
    missing = CliRunner().invoke(alerts_group, ["stats", "--config", str(config)])
    assert missing.exit_code == 1 and "no database at" in missing.output  # never a new empty file
    SyncStore(tmp_path / "e.db").close()
    result = CliRunner().invoke(alerts_group, ["stats", "--config", str(config)])
    assert result.exit_code == 0 and "no alerts" in result.output
