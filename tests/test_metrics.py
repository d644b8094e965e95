"""GET /metrics scraped from a running daemon and parsed with Prometheus's own text parser."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from listener.daemon import Daemon
from listener.domain import Mention, Page
from listener.errors import TransientSourceError
from listener.metrics import metrics_handler
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def mention(i: int, text: str) -> Mention:
    return Mention(source="social", external_id=str(i), text=text, author=f"@u{i}",
                   created_at=datetime.now(UTC) - timedelta(minutes=1), brands=("acme",))  # fmt: skip


async def test_scrape_reports_the_live_daemon(make_settings: Any, aiohttp_client: Any) -> None:
    texts = ["acme is broken again", "acme charged me twice", "acme is lovely", "acme note"]
    connectors = {
        "social": ScriptedConnector("social", [Page([mention(i, t) for i, t in enumerate(texts)], "c")]),
        "forum": ScriptedConnector("forum", [TransientSourceError("down for maintenance")]),
    }
    daemon = Daemon(make_settings(), classifier=KeywordClassifier(), sinks={"rec": RecordingSink("rec")},
                    connectors=connectors)  # fmt: skip
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await daemon.started.wait()
        for _ in range(100):
            stage_done = daemon.stage is not None and daemon.stage.stats.classified == len(texts)
            forum = [p for p in daemon.pollers if p.name == "forum"]
            if stage_done and forum and forum[0].stats.failures:
                break
            await asyncio.sleep(0.05)
        app = web.Application()
        app.router.add_get("/metrics", metrics_handler(daemon))
        client = await aiohttp_client(app)
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        got = samples(await response.text())
    finally:
        daemon.stop()
        await task
    assert got[("listener_mentions_total", (("source", "social"),))] == len(texts)
    assert got[("listener_mentions_total", (("source", "forum"),))] == 0
    assert got[("listener_source_up", (("source", "social"),))] == 1
    assert got[("listener_source_up", (("source", "forum"),))] == 0
    assert got[("listener_poll_failures_total", (("source", "forum"),))] >= 1
    assert got[("listener_classified_total", ())] == len(texts)
    assert got[("listener_classify_batch_seconds_count", ())] >= 1
    assert got[("listener_classify_batch_seconds_sum", ())] > 0
    assert got[("listener_queue_depth", ())] == 0
    # Two complaint texts ("broken", "charged"), neither answered yet.
    assert got[("listener_open_complaints", ())] == 2
    assert got[("listener_complaints", ())] == 2
    assert got[("listener_breached_complaints", ())] == 0
    assert ("listener_delivery_failures_total", ()) in got


class _FakeDaemon:
    """The attributes the collector reads, before the stages exist (scrape during start-up)."""

    def __init__(self) -> None:
        self.pollers: list[Any] = []
        self.stage = None
        self.dispatcher = None
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queue.put_nowait("k1")

        class _Store:
            async def call(self, method: Any) -> dict[str, int]:
                answers = {"counts": {"open": 3, "breached": 1, "complaints": 7}, "outbox_counts": {"pending": 2}}
                return answers[method.__name__]

        self.store = _Store()


async def test_scrape_before_the_stages_exist(aiohttp_client: Any) -> None:
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(_FakeDaemon()))
    client = await aiohttp_client(app)
    got = samples(await (await client.get("/metrics")).text())
    assert got[("listener_queue_depth", ())] == 1
    assert got[("listener_open_complaints", ())] == 3
    assert got[("listener_breached_complaints", ())] == 1
    assert got[("listener_outbox", (("state", "pending"),))] == 2
    assert not any(name.startswith("listener_classif") for name, _ in got)


async def test_daemon_serves_metrics_behind_the_api_token(make_settings: Any) -> None:
    import aiohttp

    token = "metrics-token-0123456789"
    settings = make_settings({"api": {"enabled": True, "port": 0, "token": token}})
    connector = ScriptedConnector("social", [Page([mention(1, "acme is broken")], "c")])
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={"rec": RecordingSink("rec")},
                    connectors={"social": connector})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await daemon.started.wait()
        url = f"http://127.0.0.1:{daemon.web_port}/metrics"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as anonymous:
                assert anonymous.status == 401
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as scraped:
                assert scraped.status == 200
                got = samples(await scraped.text())
    finally:
        daemon.stop()
        await task
    assert ("listener_queue_depth", ()) in got
