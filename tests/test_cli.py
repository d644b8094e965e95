"""The CLI commands that read and change clocks: complaints, ack, label."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

from listener.cli import cli, main
from listener.corrections import load_corrections
from listener.domain import Mention, Reply, Sentiment
from listener.store import SyncStore
from models.base import Classification


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with one open complaint and one praise, found through LISTENER_DB."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("LISTENER_DB", str(path))
    monkeypatch.chdir(tmp_path)  # no ./listener.toml here: defaults apply
    store = SyncStore(path)
    now = datetime.now(UTC)
    complaint = Mention(source="social", external_id="1", text="acme lost my parcel", author="@ann",
                        created_at=now - timedelta(minutes=20), brands=("acme",))
    praise = Mention(source="social", external_id="2", text="acme is lovely", author="@bob",
                     created_at=now - timedelta(minutes=5), brands=("acme",))
    store.ingest("social", [complaint, praise], [], None, now)
    bad = Classification(model_id="t", scored=True, sentiment=Sentiment.NEGATIVE, complaint=True, p_complaint=0.9)
    good = Classification(model_id="t", scored=True, sentiment=Sentiment.POSITIVE, complaint=False, p_complaint=0.1)
    store.save_classifications([(complaint, bad), (praise, good)], now)
    store.close()
    return path


def test_complaints_json_lists_open_clock(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complaints", "--open", "--format", "json"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    row = json.loads(line)
    assert row["mention"] == "social:1" and row["state"] == "open" and not row["breached"]
    assert 19 * 60 <= row["age_seconds"] <= 21 * 60


def test_complaints_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complaints"]) == 0
    out = capsys.readouterr().out
    assert "social:1" in out and "open" in out and "social:2" not in out


def test_ack_stops_the_clock_once(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ack", "1", "--by", "dana"]) == 0  # the external id is enough when unique
    assert "clock stopped by dana" in capsys.readouterr().out
    store = SyncStore(db)
    (c,) = store.complaints()
    store.close()
    assert c.state == "acknowledged" and c.closed_by == "dana" and 19 * 60 <= c.response_seconds <= 21 * 60
    assert main(["ack", "social:1"]) == 1
    assert "has no running clock" in capsys.readouterr().err


def test_ack_unknown_mention_is_a_usage_error(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ack", "nope"]) == 2
    assert "no mention 'nope'" in capsys.readouterr().err


def test_label_stores_a_correction(db: Path) -> None:
    assert main(["label", "social:2", "--sentiment", "neutral", "--complaint", "yes"]) == 0
    (c,) = load_corrections(db)
    assert (c.text, c.sentiment, c.complaint, c.mention_key) == ("acme is lovely", 1, 1, "social:2")


def test_every_command_has_help() -> None:
    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert len(names) >= 21  # every family is listed, loaded or not
    for name in names:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, f"`listener {name}` is registered under another name"
        assert command.help or command.short_help, f"`listener {name}` has no help text"


def _all_commands() -> list[tuple[str, click.Command]]:
    found = []
    pending: list[tuple[str, click.Command]] = [("listener", cli)]
    while pending:
        path, command = pending.pop()
        found.append((path, command))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            pending.extend((f"{path} {name}", command.get_command(ctx, name)) for name in command.list_commands(ctx))
    return found


def test_one_config_option_everywhere() -> None:
    """Every --config behaves alike (issue 17: the worker's copy required the file, the others did not)."""
    with_config = 0
    for path, command in _all_commands():
        for param in command.params:
            if param.name == "config_path":
                with_config += 1
                assert param.opts == ["--config"], path
                assert isinstance(param.type, click.Path) and not param.type.exists and not param.type.dir_okay, path
    assert with_config >= 20


def test_help_loads_no_daemon_store_or_aiohttp() -> None:
    """`listener --help` must start fast: command modules import the light cli.common only (issue 17)."""
    import subprocess
    import sys

    code = (
        "import sys; from listener.cli import main; main(['--help']); "
        "heavy = [m for m in ('listener.store', 'listener.daemon', 'aiohttp', 'torch', 'alerts.base') "
        "if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout[-300:]


@pytest.fixture
def queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three open complaints (default 60m target): 3h old, 70m old and 20m old."""
    path = tmp_path / "queue.db"
    monkeypatch.setenv("LISTENER_DB", str(path))
    monkeypatch.chdir(tmp_path)
    store = SyncStore(path)
    now = datetime.now(UTC)
    mentions = [
        Mention(source="social", external_id=ident, text=f"acme broke {ident}", author=f"@{ident}",
                created_at=now - timedelta(minutes=age), brands=("acme",))
        for ident, age in (("fresh", 20), ("old", 180), ("late", 70))
    ]
    store.ingest("social", mentions, [], None, now)
    bad = Classification(model_id="t", scored=True, sentiment=Sentiment.NEGATIVE, complaint=True, p_complaint=0.9)
    store.save_classifications([(m, bad) for m in mentions], now)
    store.close()
    return path


def test_open_complaints_most_urgent_first(queue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complaints", "--open", "--format", "json"]) == 0
    keys = [json.loads(line)["mention"] for line in capsys.readouterr().out.strip().splitlines()]
    assert keys == ["social:old", "social:late", "social:fresh"]


def test_overdue_is_printed_as_overdue_not_negative_time_left(
    queue: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["complaints", "--open"]) == 0
    out = capsys.readouterr().out
    assert "-" + "2h" not in out and "-0h" not in out
    assert re.search(r"overdue 2h0\dm", out) and re.search(r"overdue 1\dm\d\ds", out)
    assert re.search(r"\b(39|40)m\d\ds left", out)


def test_sources_separates_what_the_platform_shows_from_what_we_saw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "sources.db"
    config = tmp_path / "listener.toml"
    config.write_text(
        f'[listener]\ndatabase = "{db}"\n[brands.acme]\nkeywords = ["acme"]\nhandles = {{ feed = ["@acme"] }}\n'
        '[connectors.feed]\ntype = "jsonl"\npath = "feed.jsonl"\n'
        '[connectors.broken]\ntype = "jsonl"\npath = "broken.jsonl"\n'
        '[connectors.news]\ntype = "rss"\nfeeds = ["https://example.com/feed"]\n'
    )
    monkeypatch.chdir(tmp_path)
    now = datetime.now(UTC)
    store = SyncStore(db)
    mention = Mention(source="feed", external_id="1", text="acme?", author="@ann",
                      created_at=now - timedelta(minutes=30), brands=("acme",))
    reply = Reply(source="feed", external_id="r1", in_reply_to="1", author="@acme",
                  created_at=now - timedelta(minutes=5))
    store.ingest("feed", [mention], [reply], None, now)
    store.save_health("feed", state="up", last_success=now.isoformat(), consecutive_failures=0)
    store.save_health("broken", state="down", last_error="HTTP 502", consecutive_failures=4)
    store.close()
    assert main(["sources", "--config", str(config), "--format", "json"]) == 0
    rows = {r["source"]: r for r in map(json.loads, capsys.readouterr().out.strip().splitlines())}
    assert (rows["feed"]["platform_shows_replies"], rows["feed"]["replies_seen"]) == (True, 1)
    assert rows["feed"]["last_reply_seen_at"] is not None
    # Never polled successfully: the platform could show replies, but we have seen none.
    assert (rows["broken"]["platform_shows_replies"], rows["broken"]["replies_seen"]) == (True, None)
    assert (rows["news"]["platform_shows_replies"], rows["news"]["replies_seen"]) == (False, None)
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["sources", "--config", str(config)]) == 0
    table = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.count("│") > 3}
    assert "1 seen" in table["feed"]
    assert "not polled yet" in table["broken"] and "seen" not in table["broken"]
    assert "platform hides them" in table["news"] and "seen" not in table["news"]


@pytest.mark.parametrize(
    "argv",
    [
        ["complaints"], ["complaints", "--open"], ["ack", "social:1"], ["label", "social:1", "--sentiment", "neutral"],
        ["health"], ["sources"], ["mute", "--source", "social"], ["unmute", "--source", "social"], ["alerts", "stats"],
        ["trends"], ["sla-report"], ["query", "SELECT 1"], ["backtest", "--from", "2026-01-01", "--to", "2026-01-02"],
    ],
)
def test_without_config_or_database_nothing_is_created(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTENER_DB", raising=False)
    monkeypatch.delenv("LISTENER_CONFIG", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no config file found (listener.toml" in err and "no database at listener.db" in err and "--db" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_configured_database_that_does_not_exist_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTENER_DB", raising=False)
    (tmp_path / "listener.toml").write_text('[listener]\ndatabase = "data/live.db"\n')
    assert main(["complaints"]) == 1
    assert "no database at data/live.db (listener.database in listener.toml)" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_db_option_reads_the_given_file(db: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LISTENER_DB")
    for argv in (["complaints", "--format", "json"], ["sources", "--format", "json"], ["health", "--max-age", "999d"]):
        assert main([*argv, "--db", str(db)]) in (0, 1)
    out = capsys.readouterr().out
    assert '"mention": "social:1"' in out
    assert main(["complaints", "--db", str(db.with_name("other.db"))]) == 1
    assert f"no database at {db.with_name('other.db')} (--db)" in capsys.readouterr().err
    assert not db.with_name("other.db").exists()


@pytest.mark.parametrize(("command", "dimension"), [("trends", "source"), ("sla-report", "brand")])
def test_group_is_the_same_as_by(
    db: Path, command: str, dimension: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--group", dimension, "--every", "day", "--format", "json"]) == 0
    grouped = json.loads(capsys.readouterr().out)
    assert main([command, "--by", dimension, "--every", "day", "--format", "json"]) == 0
    by = json.loads(capsys.readouterr().out)
    grouped.pop("as_of", None), by.pop("as_of", None)
    assert grouped == by and grouped["by"] == [dimension] and grouped["rows"]
