"""Pipeline benchmarks: ingest throughput, alert lateness against a loopback Slack, daemon RSS."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from aiohttp import web

from config.loader import parse_config
from connectors.base import ConnectorConfig
from listener.daemon import Daemon
from listener.domain import Cursor, Mention, Page, Reply, Sentiment
from listener.store import SyncStore
from models.base import Classification


class AllComplaints:
    """Benchmark stand-in for the model: every text is a negative complaint (no torch cost)."""

    model_id = "bench-all-complaints"

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Mark everything a complaint."""
        return [
            Classification(model_id=self.model_id, scored=True, sentiment=Sentiment.NEGATIVE, p_negative=1.0,
                           p_neutral=0.0, p_positive=0.0, complaint=True, p_complaint=1.0, language="en")
            for _ in texts
        ]


class OnePage:
    """A source that returns one prepared page, then nothing."""

    type_name: ClassVar[str] = "bench"
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def __init__(self, mentions: list[Mention]) -> None:
        self.name = "bench"
        self.mentions = mentions

    async def poll(self, since: Cursor | None) -> Page:
        """All mentions once."""
        page, self.mentions = self.mentions, []
        return Page(page, "done")

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """No replies."""
        return []


def synthetic(n: int, start: datetime, spread: timedelta, tag: str = "m") -> list[Mention]:
    """`n` tweet-length mentions spread evenly over `spread` from `start`."""
    step = spread / max(n, 1)
    return [
        Mention(source="bench", external_id=f"{tag}{i}", author=f"@user{i % 5000}",
                text=f"@acme order {i} still not delivered, third time I ask, please sort it out #{tag}{i:06d}",
                created_at=start + step * i, brands=("acme",), url=f"https://social.example/{tag}{i}")
        for i in range(n)
    ]


def bench_ingest(n: int = 100_000, batch: int = 500) -> dict[str, float]:
    """Mentions stored per second through `SyncStore.ingest` (pages of `batch`, cursor per page)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SyncStore(Path(tmp) / "bench.db")
        mentions = synthetic(n, datetime(2026, 1, 1, tzinfo=UTC), timedelta(days=30))
        now = datetime.now(UTC)
        started = time.perf_counter()
        for i in range(0, n, batch):
            store.ingest("bench", mentions[i : i + batch], [], f"cursor-{i}", now)
        elapsed = time.perf_counter() - started
        stored = store.counts()["mentions"]
        store.close()
    return {"mentions": stored, "seconds": elapsed, "per_second": stored / elapsed}


async def _lateness(n: int, target_s: float) -> dict[str, float]:
    received: dict[str, float] = {}

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        match = re.search(r"#(lat\d{6})", json.dumps(body))
        if match and "breach" in json.dumps(body).lower():
            received.setdefault(match.group(1), time.time())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        now = datetime.now(UTC)
        # Deadlines spread over 10..25 s from now, so the sweep must fire on time, not in bulk.
        first_deadline = now + timedelta(seconds=10)
        mentions = synthetic(n, first_deadline - timedelta(seconds=target_s), timedelta(seconds=15), "lat")
        deadlines = {
            f"lat{int(m.external_id[3:]):06d}": (m.created_at + timedelta(seconds=target_s)).timestamp()
            for m in mentions
        }
        settings = parse_config({
            "listener": {"database": str(Path(tmp) / "lat.db")},
            "brands": {"acme": {"keywords": ["acme"]}},
            "sla": {"target": f"{target_s}s", "warn_after": f"{target_s}s", "sweep_interval": "5s"},
            "alerts": {"slack": {"webhook_url": f"http://127.0.0.1:{port}/hook", "kinds": ["breach"]}},
        })
        daemon = Daemon(settings, classifier=AllComplaints(), connectors={"bench": OnePage(mentions)})
        task = asyncio.create_task(daemon.run(install_signals=False))
        end = time.time() + 60
        while len(received) < n and time.time() < end:
            await asyncio.sleep(0.2)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        daemon.stop()
        await task
    await runner.cleanup()
    late_ms = sorted((received[k] - deadlines[k]) * 1000 for k in received)
    q = statistics.quantiles(late_ms, n=100) if len(late_ms) > 1 else late_ms * 99
    return {"clocks": n, "delivered": len(late_ms), "p50_ms": q[49], "p99_ms": q[98], "max_ms": late_ms[-1],
            "peak_rss_mb": peak_rss_mb}


def bench_lateness(n: int = 1000, target_s: float = 30.0) -> dict[str, float]:
    """Milliseconds between each clock's deadline and the breach alert reaching a loopback Slack."""
    return asyncio.run(_lateness(n, target_s))


def run() -> str:
    """Run the pipeline benchmarks and return their markdown section."""
    ingest = bench_ingest()
    late = bench_lateness()
    return "\n".join([
        "## Pipeline (issue 2)",
        "",
        "| measure | result |",
        "|---|---|",
        f"| ingest: synthetic mentions stored per second (no model; {ingest['mentions']:,} mentions, "
        f"pages of 500, cursor saved with each page) | {ingest['per_second']:,.0f}/s ({ingest['seconds']:.1f} s) |",
        f"| alert lateness, deadline -> breach received by a loopback Slack webhook, {late['clocks']:,} clocks "
        f"due over 15 s | p50 {late['p50_ms']:.0f} ms, p99 {late['p99_ms']:.0f} ms, max {late['max_ms']:.0f} ms "
        f"({late['delivered']:,} delivered) |",
        f"| daemon peak RSS during the lateness run (stand-in classifier, no torch) | {late['peak_rss_mb']:.0f} MB |",
        "",
    ])


if __name__ == "__main__":
    print(run())
