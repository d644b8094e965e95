"""Mutes wired into delivery: stored with expiry, suppressed alerts recorded with a reason, MQTT untouched."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.base import EventKind
from listener.cli import COMMANDS, load_command
from listener.cli.sla import mute_command, unmute_command
from listener.clock import FakeClock
from listener.dispatch import mute_reason
from listener.domain import Page
from listener.events import Event
from listener.noise import Mute
from listener.store import SyncStore
from tests.doubles import KeywordClassifier, RecordingSink
from tests.test_policy_clocks import Harness, mention

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _settings(make_settings):
    return make_settings({"brands": {"acme": {"keywords": ["acme"]}},
                          "sla": {"target": "10m", "warn_after": "10m"}})


def _deliveries(settings) -> list[tuple[str, str, str, str | None]]:
    store = SyncStore(settings.listener.database)
    rows = store.db.execute(
        "SELECT e.id, d.sink, d.state, d.suppressed FROM deliveries d JOIN events e ON e.seq = d.event_seq "
        "WHERE e.kind = 'breach' ORDER BY e.id, d.sink"
    ).fetchall()
    store.close()
    return [tuple(r) for r in rows]


async def test_muted_brand_is_suppressed_for_humans_but_not_for_mqtt(make_settings) -> None:
    settings = _settings(make_settings)
    clock = FakeClock(START)
    h = Harness(settings, clock)
    mqtt = RecordingSink("mqtt", kinds=None, noise_controls=False)
    h.sink = RecordingSink("rec", kinds=[EventKind.BREACH])
    store = h.store()
    store.add_mute("brand", "acme", START + timedelta(minutes=30), "ops", START)
    store.close()

    from listener.daemon import Daemon

    async def run(*pages: Page) -> None:
        h.source.pages.extend(pages)
        daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(),
                        sinks={"rec": h.sink, "mqtt": mqtt}, connectors={"social": h.source})
        await daemon.run_once()

    await run(Page([mention(START, "1", "acme my bill is broken")], "c"))
    clock.set(START + timedelta(minutes=11))
    await run()
    assert h.sink.kinds_sent == []  # muted for humans
    assert "breach" in mqtt.kinds_sent  # machines still get every event
    rows = _deliveries(settings)
    assert ("social:1:breach", "rec", "suppressed", "muted brand acme until 2026-03-02 10:30:00+00:00") in rows
    assert ("social:1:breach", "mqtt", "delivered", None) in rows

    # After the mute expires, a new complaint alerts again.
    clock.set(START + timedelta(minutes=31))
    await run(Page([mention(START + timedelta(minutes=31), "2", "acme my bill is broken again", author="@bob")], "d"))
    clock.set(START + timedelta(minutes=42))
    await run()
    assert h.sink.kinds_sent == ["breach"]
    assert [e.id for e, _ in h.sink.events] == ["social:2:breach"]


def test_mute_store_round_trip(tmp_path: Path) -> None:
    store = SyncStore(tmp_path / "m.db")
    store.add_mute("source", "reddit", START + timedelta(hours=1), "me", START)
    assert store.active_mutes(START) == [Mute(source="reddit", until=START + timedelta(hours=1))]
    assert store.active_mutes(START + timedelta(hours=1)) == []  # expired at its deadline
    assert store.remove_mute("source", "reddit") is True
    assert store.remove_mute("source", "reddit") is False
    with pytest.raises(ValueError):
        store.add_mute("author", "x", START, "me", START)
    with pytest.raises(ValueError):
        store.add_mute("brand", "x", datetime(2026, 1, 1), "me", START)  # naive
    store.close()


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "listener.toml"
    path.write_text(f'[listener]\ndatabase = "{tmp_path / "cli.db"}"\n\n[brands.acme]\nkeywords = ["acme"]\n')
    return path


def test_mute_and_unmute_commands(tmp_path: Path) -> None:
    config = _config(tmp_path)
    runner = CliRunner()
    clock = FakeClock(START)
    result = runner.invoke(mute_command, ["--config", str(config), "--brand", "acme", "--for", "2h"],
                           obj={"clock": clock})
    assert result.exit_code == 0, result.output
    assert "brand acme muted until 2026-03-02 12:00 UTC" in result.output
    store = SyncStore(tmp_path / "cli.db")
    assert store.active_mutes(START) == [Mute(brand="acme", until=START + timedelta(hours=2))]
    store.close()
    result = runner.invoke(unmute_command, ["--config", str(config), "--brand", "acme"])
    assert result.exit_code == 0 and "unmuted" in result.output
    result = runner.invoke(unmute_command, ["--config", str(config), "--brand", "acme"])
    assert result.exit_code != 0 and "was not muted" in result.output


def test_mute_command_rejects_bad_input(tmp_path: Path) -> None:
    config = _config(tmp_path)
    runner = CliRunner()
    both = runner.invoke(mute_command, ["--config", str(config), "--brand", "a", "--source", "b"])
    assert both.exit_code == 2 and "exactly one" in both.output
    bad = runner.invoke(mute_command, ["--config", str(config), "--brand", "a", "--for", "soon"])
    assert bad.exit_code == 2 and "invalid duration" in bad.output


def test_commands_are_exported() -> None:
    family = {name for name, path in COMMANDS.items() if path.startswith("listener.cli.sla:")}
    assert family == {"mute", "unmute", "alerts", "backtest"}
    assert all(load_command(COMMANDS[name]).name == name for name in family)


async def test_standing_mute_from_config(make_settings) -> None:
    settings = make_settings({"brands": {"acme": {"keywords": ["acme"]}}, "sla": {"target": "10m", "warn_after": "10m"},
                              "alerts": {"noise": {"mute_sources": ["social"]}}})
    clock = FakeClock(START)
    h = Harness(settings, clock)
    await h.run(Page([mention(START, "1", "acme my bill is broken")], "c"))
    await h.at(START + timedelta(minutes=11)).run()
    assert h.sink.kinds_sent == []
    rows = _deliveries(settings)
    assert rows == [("social:1:breach", "rec", "suppressed", "muted source social until unmuted in the config")]


def test_mute_reason_names_a_source_first_and_a_timed_mute_before_a_standing_one() -> None:
    """The suppression reason `listener alerts stats` shows: one Mute record for config and timed mutes."""
    breach = Event(id="c:breach", kind=EventKind.BREACH, brand="acme", thread="c", created_at=START, source="reddit")
    timed = Mute(brand="acme", until=START + timedelta(hours=1))
    standing = [Mute(source="reddit"), Mute(brand="acme")]
    assert mute_reason(breach, [timed, *standing], START) == "muted source reddit until unmuted in the config"
    assert mute_reason(breach, [timed, Mute(brand="acme")], START) == (
        "muted brand acme until 2026-03-02 11:00:00+00:00")
    assert mute_reason(breach, [timed], START + timedelta(hours=1)) is None  # expired at its deadline
    mention_event = dataclasses.replace(breach, kind=EventKind.MENTION)
    assert mute_reason(mention_event, standing, START) is None  # machines get every mention
