"""Meta webhook benchmark: signed deliveries over loopback through the daemon's real route, stored before each 200."""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.pipeline import AllComplaints
from config.loader import parse_config
from listener.daemon import Daemon
from listener.store import SyncStore
from listener.webhooks import ROUTE, signature_of
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph

APP_SECRET = "bench-app-secret"
PAGE = "104000000000001"
COMMAND = "nice -n 10 .venv/bin/python -m benchmarks.run benchmarks.webhooks"


def cpu_model() -> str:
    """The CPU as `lscpu` names it (`Model name`), else what Python knows."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def delivery(n: int, tag: str) -> bytes:
    """One Page `feed` webhook with one new customer comment (its own post and id), as Meta sends it."""
    post = f"{PAGE}_{tag}{n:09d}"
    value = {"from": {"id": f"5{n:015d}", "name": f"Customer {n}"}, "item": "comment", "verb": "add",
             "post_id": post, "comment_id": f"{post}_{n:09d}", "parent_id": post, "created_time": 1767600000 + n,
             "message": f"acme order {n} never arrived and nobody answers",
             "post": {"id": post, "status_type": "added_photos", "is_published": True}}
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1767600000 + n,
                                                    "changes": [{"field": "feed", "value": value}]}]}).encode()


async def _send(http: aiohttp.ClientSession, url: str, body: bytes) -> float:
    headers = {"X-Hub-Signature-256": signature_of(body, APP_SECRET), "Content-Type": "application/json"}
    started = time.perf_counter()
    async with http.post(url, data=body, headers=headers) as answer:
        await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"delivery answered {answer.status}")
    return (time.perf_counter() - started) * 1000


async def _run(n: int, concurrency: int, warmup: int) -> dict[str, Any]:
    graph = FakeGraph("facebook")
    graph.edges = {k: [] for k in graph.edges}  # polling finds nothing: every mention comes by webhook
    graph_runner = web.AppRunner(graph.app())
    await graph_runner.setup()
    graph_site = web.TCPSite(graph_runner, "127.0.0.1", 0)
    await graph_site.start()
    graph_port = graph_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "hooks.db"
        settings = parse_config({
            "listener": {"database": str(database)},
            "brands": {"acme": {"keywords": ["acme"]}},
            "api": {"host": "127.0.0.1", "port": 0, "enabled": False},  # the web server starts for webhooks
            "connectors": {"facebook": {"page_id": PAGE, "access_token": PAGE_TOKEN, "app_secret": APP_SECRET,
                                        "verify_token": "bench-verify", "poll_interval": "1h",
                                        "base_url": f"http://127.0.0.1:{graph_port}", "attribute_to": ["acme"]}},
        })
        daemon = Daemon(settings, classifier=AllComplaints(), sinks={})
        task = asyncio.create_task(daemon.run(install_signals=False))
        while daemon.web_port is None:
            if task.done():
                await task  # start-up failed: raise its error
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{daemon.web_port}{ROUTE}"
        sent = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            for i in range(warmup):  # first requests pay for imports and connections: not counted
                await _send(http, url, delivery(i, "9"))
            bodies = [delivery(i, "1") for i in range(n)]
            latencies: list[float] = []

            async def sender(k: int) -> None:
                for body in bodies[k::concurrency]:
                    latencies.append(await _send(http, url, body))

            started = time.perf_counter()
            await asyncio.gather(*(sender(k) for k in range(concurrency)))
            elapsed = time.perf_counter() - started
            sent = len(latencies)
        # Every delivery was stored before its 200; wait for the classifier to catch up (end to end).
        deadline = time.monotonic() + 120
        reader = SyncStore(database)
        try:
            while time.monotonic() < deadline:
                stored, classified = reader.db.execute(
                    "SELECT count(*), count(classified_at) FROM mentions WHERE key LIKE 'facebook:%'").fetchone()
                if classified >= n + warmup:
                    break
                await asyncio.sleep(0.05)
            all_classified = time.perf_counter() - started
        finally:
            reader.close()
        daemon.stop()
        await task
    await graph_runner.cleanup()
    if stored != n + warmup:
        raise RuntimeError(f"{stored} mentions stored for {n + warmup} deliveries")
    q = statistics.quantiles(latencies, n=100, method="inclusive")  # never above the max on small runs
    return {"deliveries": sent, "concurrency": concurrency, "p50_ms": q[49], "p99_ms": q[98],
            "max_ms": max(latencies), "per_second": sent / elapsed, "stored": stored - warmup,
            "classified": classified - warmup, "all_classified_s": all_classified}


def bench_webhooks(n: int = 1000, concurrency: int = 1, warmup: int = 20) -> dict[str, Any]:
    """Latency (send to 200) of `n` signed deliveries, `concurrency` in flight, and deliveries per second."""
    return asyncio.run(_run(n, concurrency, warmup))


def _row(result: dict[str, Any]) -> str:
    return (
        f"| {result['deliveries']:,} deliveries, {result['concurrency']} in flight | {result['p50_ms']:.1f} ms | "
        f"{result['p99_ms']:.1f} ms | {result['max_ms']:.1f} ms | {result['per_second']:,.0f}/s | "
        f"{result['classified']:,} of {result['stored']:,} after {result['all_classified_s']:.1f} s |"
    )


def run() -> str:
    """Run the webhook benchmark (one sender, then eight at once) and return its markdown section."""
    one = bench_webhooks(concurrency=1)
    eight = bench_webhooks(concurrency=8)
    return "\n".join([
        "## Meta webhooks (`POST /webhooks/meta`)",
        "",
        "1,000 signed Page `feed` deliveries (one new comment each, `X-Hub-Signature-256` over the raw body) "
        "sent over loopback to the real daemon (`listener.daemon.Daemon`, its web server and route), with the "
        "`facebook` connector mapping each entry; each 200 comes after the mention is committed to SQLite. "
        "Stand-in classifier (no torch); 20 warm-up deliveries not counted. Latency is send to 200 at the client.",
        "",
        "| run | p50 | p99 | max | deliveries/s | classified (from the first send) |",
        "|---|---:|---:|---:|---:|---|",
        _row(one),
        _row(eight),
        "",
        f"Command: `{COMMAND}`. CPU: {cpu_model()} (`lscpu | grep 'Model name'`).",
        "",
    ])


if __name__ == "__main__":
    print(run())
