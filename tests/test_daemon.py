"""The daemon in its forever mode, on the real clock with second-long targets."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from alerts.base import Event
from listener.daemon import Daemon
from listener.domain import Mention, Page
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector


class TimedSink(RecordingSink):
    """Records the wall-clock time each event arrived."""

    def __init__(self) -> None:
        super().__init__("timed")
        self.arrivals: list[tuple[Event, float]] = []

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        self.arrivals.append((event, time.time()))
        return await super().send(event, previous_ref)


async def test_breach_is_delivered_within_two_seconds_of_the_deadline(make_settings) -> None:
    settings = make_settings({"sla": {"target": "3s", "warn_after": "2s", "sweep_interval": "30s"},
                              "alerts": {"dispatch_interval": "30s"}})
    now = datetime.now(UTC)
    page = Page(
        [
            Mention(source="social", external_id="c", text="acme my line is down again", author="@a",
                    created_at=now, brands=("acme",)),
            Mention(source="social", external_id="p", text="love acme, thanks", author="@b",
                    created_at=now, brands=("acme",)),
        ],
        "c1",
    )
    sink = TimedSink()
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={"timed": sink},
                    connectors={"social": ScriptedConnector("social", [page])})
    task = asyncio.create_task(daemon.run(install_signals=False))
    for _ in range(100):
        if any(e.kind.value == "breach" for e, _ in sink.arrivals):
            break
        await asyncio.sleep(0.1)
    daemon.stop()
    summary = await task
    kinds = [e.kind.value for e, _ in sink.arrivals]
    assert kinds == ["warn", "breach"]
    breach, arrived = sink.arrivals[1]
    assert breach.deadline is not None
    # Sweep and dispatch intervals are 30 s: only exact deadline scheduling can make this.
    assert 0 <= arrived - breach.deadline.timestamp() <= 2.0
    assert summary.classified == 2 and summary.complaints == 1
    assert {e.mention_key for e, _ in sink.arrivals} == {"social:c"}


async def test_stop_drains_and_reports(make_settings) -> None:
    settings = make_settings()
    mentions = [
        Mention(source="social", external_id=str(i), text=f"acme note {i}", author="@a",
                created_at=datetime.now(UTC) - timedelta(minutes=1), brands=("acme",))
        for i in range(50)
    ]
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={},
                    connectors={"social": ScriptedConnector("social", [Page(mentions, "c")])})
    task = asyncio.create_task(daemon.run(install_signals=False))
    await daemon.started.wait()
    for _ in range(50):
        if daemon.summary.new_mentions or (daemon.pollers and daemon.pollers[0].stats.new_mentions):
            break
        await asyncio.sleep(0.1)
    daemon.stop()
    summary = await task
    assert summary.new_mentions == 50 and summary.classified == 50
    assert "50 new mentions, 50 classified" in summary.line()
