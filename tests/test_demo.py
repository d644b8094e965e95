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
