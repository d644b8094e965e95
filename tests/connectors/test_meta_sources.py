"""The new sources as a new user runs them: the example config's table, the daemon, alerts and `listener sources`."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config.loader import parse_config
from config.schema import Settings
from listener.cli import main
from listener.daemon import Daemon
from listener.store import SyncStore
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph
from tests.doubles import KeywordClassifier, RecordingSink

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "listener.example.toml"


def example_settings(tmp_path: Path, table: str, url: str, **env: str) -> Settings:
    """The example config's brands and one of its connector tables, enabled and pointed at a fake."""
    data = tomllib.loads(EXAMPLE.read_text())
    brands = {
        name: {k: v for k, v in spec.items() if k not in ("handles", "bots")} for name, spec in data["brands"].items()
    }
    connector = {**data["connectors"][table], "enabled": True, "base_url": url, "jitter": "0s"}
    return parse_config({"listener": {"database": str(tmp_path / "listener.db")}, "brands": brands,
                         "connectors": {table: connector}}, env=env)


async def run(settings: Settings, clock: Any, sink: RecordingSink) -> None:
    await Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={sink.name: sink}).run_once()


def stored(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    store = SyncStore(settings.listener.database)
    try:
        return [tuple(row) for row in store.db.execute(sql).fetchall()]
    finally:
        store.close()


@pytest.fixture
async def graph(aiohttp_server) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    async def start(fixture: str = "facebook", token: str = PAGE_TOKEN) -> tuple[FakeGraph, str]:
        fake = FakeGraph(fixture, token)
        server = await aiohttp_server(fake.app())
        return fake, str(server.make_url("")).rstrip("/")

    return start


async def test_facebook_from_the_example_config(graph, tmp_path, clock, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    fake, url = await graph()
    settings = example_settings(tmp_path, "facebook", url, META_PAGE_TOKEN=PAGE_TOKEN)
    await run(settings, clock, RecordingSink())
    keys = {k for (k,) in stored(settings, "SELECT key FROM mentions")}
    assert "facebook:200000000000001_300000000000001" in keys and len(keys) == 3
    assert stored(settings, "SELECT mention_key FROM replies") == [("facebook:200000000000001_300000000000001",)]
    monkeypatch.setenv("LISTENER_DB", str(settings.listener.database))
    monkeypatch.chdir(tmp_path)
    example = tomllib.loads(EXAMPLE.read_text())
    (tmp_path / "listener.toml").write_text(
        "[listener]\ndatabase = 'listener.db'\n[brands.acme]\nkeywords = ['acme']\n[connectors.facebook]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in example["connectors"]["facebook"].items()
                  if k not in ("access_token", "app_secret", "verify_token", "attribute_to")))
    assert main(["sources", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["source"] == "facebook" and row["platform_shows_replies"] is True and row["state"] == "up"
    assert any("no public search" in item for item in row["cannot_show"]) and row["shows"]


async def test_rejected_page_token_alerts_once(graph, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = await graph()
    settings = example_settings(tmp_path, "facebook", url, META_PAGE_TOKEN="EAAG-revoked")
    sink = RecordingSink()
    for _ in range(3):
        await run(settings, clock, sink)
        clock.advance(timedelta(minutes=5))
    assert [e.state for e, _ in sink.events] == ["auth_failed"]
    assert "code 190" in sink.events[0][0].detail and "EAAG-revoked" not in sink.events[0][0].detail


async def test_instagram_from_the_example_config(graph, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = await graph("instagram")
    settings = example_settings(tmp_path, "instagram", url, META_IG_TOKEN=PAGE_TOKEN)
    await run(settings, clock, RecordingSink())
    keys = {k for (k,) in stored(settings, "SELECT key FROM mentions")}
    assert {"instagram:17850000000000001", "instagram:17910000000000001"} <= keys
    assert stored(settings, "SELECT mention_key FROM replies") == [("instagram:17850000000000001",)]


async def test_rejected_instagram_token_alerts_once(graph, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = await graph("instagram")
    settings = example_settings(tmp_path, "instagram", url, META_IG_TOKEN="IGQ-revoked")
    sink = RecordingSink()
    for _ in range(2):
        await run(settings, clock, sink)
        clock.advance(timedelta(minutes=5))
    assert [e.state for e, _ in sink.events] == ["auth_failed"]


async def test_threads_from_the_example_config(graph, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = await graph("threads")
    settings = example_settings(tmp_path, "threads", url, THREADS_TOKEN=PAGE_TOKEN)
    await run(settings, clock, RecordingSink())
    keys = {k for (k,) in stored(settings, "SELECT key FROM mentions")}
    assert {"threads:18050000000000003", "threads:18070000000000001"} <= keys
    assert stored(settings, "SELECT mention_key FROM replies") == [("threads:18070000000000001",)]
    assert {r.query["q"] for r in fake.requests if r.path.endswith("/keyword_search")} == {"acme", "globex", "アクメ"}


async def test_linkedin_from_the_example_config(aiohttp_server, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.connectors.fake_linkedin import TOKEN, FakeLinkedIn

    fake = FakeLinkedIn()
    server = await aiohttp_server(fake.app())
    settings = example_settings(tmp_path, "linkedin", str(server.make_url("")).rstrip("/"), LINKEDIN_TOKEN=TOKEN)
    sink = RecordingSink()
    await run(settings, clock, sink)
    keys = {k for (k,) in stored(settings, "SELECT key FROM mentions")}
    ask = "linkedin:urn:li:comment:(urn:li:activity:7100000000000000001,7100000000000001001)"
    assert ask in keys and len(keys) == 2
    assert stored(settings, "SELECT mention_key FROM replies") == [(ask,)]
    bad = example_settings(tmp_path / "x", "linkedin", str(server.make_url("")).rstrip("/"), LINKEDIN_TOKEN="nope")
    (tmp_path / "x").mkdir()
    for _ in range(2):
        await run(bad, clock, sink)
        clock.advance(timedelta(minutes=5))
    assert [e.state for e, _ in sink.events] == ["auth_failed"]


async def test_rejected_threads_token_alerts_once(graph, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = await graph("threads")
    settings = example_settings(tmp_path, "threads", url, THREADS_TOKEN="TH-revoked")
    sink = RecordingSink()
    for _ in range(2):
        await run(settings, clock, sink)
        clock.advance(timedelta(minutes=5))
    assert [e.state for e, _ in sink.events] == ["auth_failed"] and "code 190" in sink.events[0][0].detail
