"""Source health: state per connector, and alerts for rejected credentials, outages and gaps."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from listener.cli import main
from listener.daemon import Daemon
from listener.domain import Mention, Page
from listener.errors import SourceAuthError, TransientSourceError
from listener.store import SyncStore
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector


async def poll(settings, clock, connector, sink) -> None:  # type: ignore[no-untyped-def]
    daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={sink.name: sink},
                    connectors={connector.name: connector})
    await daemon.run_once()


def health(settings) -> dict:  # type: ignore[no-untyped-def]
    store = SyncStore(settings.listener.database)
    try:
        return {row["source"]: row for row in store.health()}
    finally:
        store.close()


async def test_rejected_credentials_alert_once_per_incident(make_settings, clock) -> None:
    settings, sink = make_settings(), RecordingSink()
    source = ScriptedConnector("social", [SourceAuthError("HTTP 401"), SourceAuthError("HTTP 401"),
                                          Page([], "c"), SourceAuthError("HTTP 401")])
    for _ in range(4):
        await poll(settings, clock, source, sink)
        clock.advance(timedelta(minutes=1))
    states = [e.state for e, _ in sink.events]
    assert states == ["auth_failed", "auth_failed"]  # two incidents, not four polls
    assert "credentials were rejected" in sink.events[0][0].detail
    assert health(settings)["social"]["state"] == "auth_failed"


async def test_outage_longer_than_the_threshold_alerts_once(make_settings, clock) -> None:
    settings, sink = make_settings(), RecordingSink()
    source = ScriptedConnector("social", [TransientSourceError("HTTP 503", retry_after=60)] * 5,
                               down_alert_after="30m")
    for _ in range(5):  # failures at 0, 15, 30, 45, 60 minutes
        await poll(settings, clock, source, sink)
        clock.advance(timedelta(minutes=15))
    assert [e.state for e, _ in sink.events] == ["down"]
    assert "failing since" in sink.events[0][0].detail and "HTTP 503" in sink.events[0][0].detail
    row = health(settings)["social"]
    assert row["state"] == "down" and row["consecutive_failures"] == 5 and row["rate_limited_until"]


async def test_gap_in_a_usually_busy_source_is_reported(make_settings, clock) -> None:
    settings, sink = make_settings(), RecordingSink()
    busy = [Mention(source="social", external_id=str(i), text=f"acme chatter {i}", author="@a",
                    created_at=clock.now() - timedelta(hours=8 + i), brands=("acme",)) for i in range(140)]
    source = ScriptedConnector("social", [Page(busy, "c1"), Page([], "c2"), Page([], "c3")], gap_alert_after="6h")
    await poll(settings, clock, source, sink)  # last mention 8 h ago; ~5 expected per 6 h
    clock.advance(timedelta(minutes=5))
    await poll(settings, clock, source, sink)
    assert [e.state for e, _ in sink.events] == ["gap", ] and "no mention for 8h" in sink.events[0][0].detail


async def test_quiet_source_is_not_a_gap(make_settings, clock) -> None:
    settings, sink = make_settings(), RecordingSink()
    rare = [Mention(source="social", external_id="1", text="acme", author="@a",
                    created_at=clock.now() - timedelta(days=2), brands=("acme",))]
    await poll(settings, clock, ScriptedConnector("social", [Page(rare, "c")], gap_alert_after="6h"), sink)
    assert sink.events == []


class ShortMemory(ScriptedConnector):
    """A source whose API only returns the last day of posts."""

    max_lookback: ClassVar[timedelta] = timedelta(days=1)


async def test_outage_beyond_the_api_lookback_records_the_missing_period(make_settings, clock) -> None:
    settings, sink = make_settings(), RecordingSink()
    source = ShortMemory("social", [Page([], "c1"), TransientSourceError("down"), Page([], "c2")],
                         down_alert_after="0s")
    await poll(settings, clock, source, sink)
    clock.advance(timedelta(hours=1))
    await poll(settings, clock, source, sink)
    clock.advance(timedelta(days=2))
    await poll(settings, clock, source, sink)  # a restart in between: state comes from the database
    (event, _), = sink.events
    assert event.state == "gap" and "may be missing" in event.detail


async def test_sources_command_shows_health(make_settings, clock, tmp_path, monkeypatch, capsys) -> None:
    settings = make_settings()
    source = ScriptedConnector("social", [TransientSourceError("HTTP 502 from upstream")])
    await poll(settings, clock, source, RecordingSink())
    monkeypatch.setenv("LISTENER_DB", str(settings.listener.database))
    monkeypatch.chdir(tmp_path)
    assert main(["sources", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"source": "social"' in out and "HTTP 502" in out and '"state": "down"' in out
