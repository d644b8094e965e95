"""The embedded demo, end to end, on a short run (the real model's run is in tests/models)."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console

from listener import demo
from listener.daemon import Daemon
from tests.doubles import KeywordClassifier


def test_demo_replays_the_sample_and_summarises(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Daemon, "_load_classifier", lambda self: KeywordClassifier())
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    database = tmp_path / "demo.db"
    assert asyncio.run(demo._demo(8.0, database, console)) == 0
    text = out.getvalue()
    assert "Response times (complaints)" in text and "acme" in text and "globex" in text
    assert "listener stopped after" in text
    # It says where the database is and how to explore it, with a config that keeps the competitor flag.
    assert f"Demo database: {database.resolve()}" in text and "listener trends --config" in text
    assert (tmp_path / "demo.toml").is_file()

    from listener.store import SyncStore

    store = SyncStore(database)
    try:
        counts = store.counts()
        acme = store.response_summary("acme")
    finally:
        store.close()
    # Everything up to "now" was replayed; the live part of the sample arrives later.
    assert 235 <= counts["mentions"] <= 253  # 253 customer posts, 12 of them after "now"
    assert counts["classified"] == counts["mentions"]
    # The keyword double finds fewer complaints than the model; some are overdue and some answered.
    assert acme["breaches"] >= 3 and acme["replied"] >= 2
    assert "BREACH" in text and "Response deadline missed" in text  # the console sink above the live view


def test_demo_writes_a_config_that_keeps_the_competitor_flag(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    import json

    from config.loader import load_config
    from listener.cli import main
    from listener.store import SyncStore

    database = tmp_path / "kept.db"
    SyncStore(database).close()
    settings = demo.demo_settings(tmp_path, tmp_path / "sample.jsonl", database)
    config = demo.write_explore_config(settings, database)
    assert config == tmp_path / "kept.toml"
    loaded = load_config(config, env={})
    assert loaded.listener.database == database.resolve()
    assert {n: b.competitor for n, b in loaded.brands.items()} == {"acme": False, "globex": True}
    assert "アクメ" in loaded.brands["acme"].keywords
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LISTENER_DB", raising=False)
    assert main(["sla-report", "--config", str(config), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["competitors"] == ["globex"]
    # A file the demo did not write is never overwritten.
    config.write_text("# mine\n")
    assert demo.write_explore_config(settings, database) is None and config.read_text() == "# mine\n"
    assert "was not written by the demo" in demo.explore_hint(database, None)
    assert "--database demo.db" in demo.explore_hint(None, None)
