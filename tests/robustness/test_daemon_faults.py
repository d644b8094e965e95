"""A store that fails for a while: every job keeps its schedule, backs off, reports it once, and recovers alone."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from connectors.base import ConnectorConfig
from listener.daemon import Daemon
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import TransientSourceError
from listener.health import check_health
from listener.store import SyncStore
from tests.doubles import KeywordClassifier, ScriptedConfig

# The store calls that write: a full disk or an I/O error makes each of them raise.
WRITES = frozenset({
    "ingest", "save_health", "save_classifications", "sweep", "beat", "record_replies", "enqueue",
    "claim_deliveries", "record_outcomes",
})


class CursorConnector:
    """A source that serves `items` after the cursor, two a page, and fails on request (like a real API)."""

    type_name: ClassVar[str] = "scripted"
    Config: ClassVar[type[ConnectorConfig]] = ScriptedConfig

    def __init__(self, name: str, items: Sequence[Mention]) -> None:
        self.name = name
        self.config = ScriptedConfig.model_validate({"poll_interval": "50ms", "max_backoff": "200ms"})
        self.items = list(items)
        self.fail_with: Exception | None = None
        self.polls = 0

    async def poll(self, since: Cursor | None) -> Page:
        """The next two items after `since` (an index), or the configured failure."""
        self.polls += 1
        if self.fail_with is not None:
            raise self.fail_with
        start = int(since or 0)
        return Page(self.items[start:start + 2], str(min(start + 2, len(self.items))))

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """No brand replies."""
        return []


class BrokenStore:
    """Makes the daemon's store writes raise as a full disk does, until `heal()`."""

    def __init__(self, daemon: Daemon, message: str = "database or disk is full") -> None:
        self.broken = False
        self.failures = 0
        self.message = message
        real = daemon.store.call

        async def call(method: Any, *args: Any, **kwargs: Any) -> Any:
            if self.broken and method.__name__ in WRITES:
                self.failures += 1
                raise sqlite3.OperationalError(self.message)
            return await real(method, *args, **kwargs)

        daemon.store.call = call  # type: ignore[method-assign]
        daemon.faults.base, daemon.faults.cap = 0.05, 0.2  # the daemon's 1 s to 60 s, shortened for the test

    def heal(self) -> None:
        """Give the disk its room back."""
        self.broken = False


def _mentions(count: int) -> list[Mention]:
    now = datetime.now(UTC)
    return [Mention(source="feed", external_id=f"m{i}", text=f"acme my order {i} is broken", author=f"@u{i}",
                    created_at=now, brands=("acme",)) for i in range(count)]


def _settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings({
        "sla": {"target": "1h", "warn_after": "30m", "sweep_interval": "100ms"},
        "alerts": {"dispatch_interval": "100ms"},
    })


async def _wait(predicate, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def _state(path: str) -> tuple[int, int, dict[str, Any], dict[str, datetime], list[str]]:
    store = SyncStore(path)
    try:
        stored = store.db.execute("SELECT count(*) FROM mentions").fetchone()[0]
        classified = store.db.execute("SELECT count(*) FROM mentions WHERE classified_at IS NOT NULL").fetchone()[0]
        health = {row["source"]: row for row in store.health()}
        problems = check_health(store, datetime.now(UTC), timedelta(seconds=30))
        return stored, classified, health, store.heartbeats(), problems
    finally:
        store.close()


async def test_jobs_survive_a_failing_store_and_catch_up_by_themselves(make_settings) -> None:
    """Polls whose health write fails, the sweep, dispatch: all keep going and catch up once writes work."""
    settings = _settings(make_settings)
    connector = CursorConnector("feed", _mentions(10))
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={}, connectors={"feed": connector})
    store = BrokenStore(daemon)
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await daemon.started.wait()
        store.broken = True
        connector.fail_with = TransientSourceError("HTTP 503")  # `_failed` must write health: it cannot
        assert await _wait(lambda: store.failures >= 10)
        connector.fail_with = None  # the source is back, the disk still full: ingest fails
        polls = connector.polls
        assert await _wait(lambda: connector.polls >= polls + 3)
        during = _state(settings.listener.database)
        assert during[0] == 0
        assert any("database" in p for p in during[4]), during[4]  # `listener health` says what is wrong
        store.heal()
        healed = datetime.now(UTC)
        database = settings.listener.database

        def caught_up() -> bool:
            stored, classified, health, beats, problems = _state(database)
            return (stored == classified == 10 and health.get("feed", {}).get("state") == "up"
                    and beats.get("sla", healed) > healed and not problems)

        assert await _wait(caught_up), _state(database)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
    stored, classified, _health, _beats, _problems = _state(settings.listener.database)
    complaints = SyncStore(settings.listener.database)
    try:
        opened = complaints.db.execute("SELECT count(*) FROM complaints WHERE state = 'open'").fetchone()[0]
    finally:
        complaints.close()
    assert opened == 10  # every complaint has its clock


async def test_store_outage_logs_one_line_each_way(make_settings, caplog) -> None:
    """However many jobs fail during an outage: one warning when it starts, one line when it ends."""
    settings = _settings(make_settings)
    connector = CursorConnector("feed", _mentions(4))
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={}, connectors={"feed": connector})
    store = BrokenStore(daemon, "disk I/O error")
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await daemon.started.wait()
        caplog.clear()
        store.broken = True
        assert await _wait(lambda: store.failures >= 20)
        store.heal()
        assert await _wait(lambda: _state(settings.listener.database)[1] == 4)
        await asyncio.sleep(0.5)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
    # What an operator sees: our INFO lines, anyone's warnings (setup_logging keeps APScheduler at WARNING).
    loud = [r for r in caplog.records if (r.levelno >= logging.WARNING or (r.levelno >= logging.INFO
            and r.name.startswith("listener"))) and "listener stopped" not in r.getMessage()]
    assert [r.levelname for r in loud] == ["WARNING", "INFO"], [r.getMessage() for r in loud]
    assert "disk I/O error" in loud[0].getMessage()
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)
    assert sum(1 for r in caplog.records if r.exc_info) == 1  # the traceback once, at DEBUG


async def test_connector_bug_logs_once_per_incident(make_settings, caplog) -> None:
    """A poll that raises an unexpected error again and again: one line down, one up, the traceback at DEBUG."""
    settings = _settings(make_settings)
    connector = CursorConnector("feed", _mentions(2))
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={}, connectors={"feed": connector})
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await daemon.started.wait()
        caplog.clear()
        connector.fail_with = KeyError("items")  # a mapping bug, not a SourceError
        polls = connector.polls
        assert await _wait(lambda: connector.polls >= polls + 5)
        connector.fail_with = None
        assert await _wait(lambda: _state(settings.listener.database)[2].get("feed", {}).get("state") == "up")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
    feed = [r for r in caplog.records if (r.levelno >= logging.WARNING or (r.levelno >= logging.INFO
            and r.name.startswith("listener"))) and "feed" in r.getMessage()]
    assert [r.levelname for r in feed] == ["WARNING", "INFO"], [r.getMessage() for r in feed]
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)
    assert sum(1 for r in caplog.records if r.exc_info) == 1


@pytest.mark.parametrize("delay", [0.0])
def test_sigterm_right_after_start_logs_no_traceback(tmp_path, delay: float) -> None:
    """SIGTERM while the first jobs are starting: a clean stop, no CancelledError traceback."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    sample = tmp_path / "feed.jsonl"
    sample.write_text("".join(
        f'{{"id": "m{i}", "text": "acme broken {i}", "author": "@u{i}", "created_at": "2026-01-05T09:00:00+00:00"}}\n'
        for i in range(50)
    ))
    config = tmp_path / "listener.toml"
    config.write_text(f"""
[listener]
database = "{tmp_path / 'db.sqlite'}"
shutdown_grace = "2s"
[brands.acme]
keywords = ["acme"]
[connectors.feed]
type = "jsonl"
path = "{sample}"
max_records = 4
poll_interval = "100ms"
jitter = "0s"
[alerts]
dispatch_interval = "200ms"
""")
    root = Path(__file__).resolve().parents[2]
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "tests.crash_runner", str(config)], cwd=root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "CancelledError" not in err, err
