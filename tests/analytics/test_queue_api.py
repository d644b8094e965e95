"""GET /api/queue (tabs, order, filters, counts), POST /api/actions without the daemon, per-user tokens, live events."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from listener.api.server import build_app
from listener.clock import FakeClock
from listener.domain import Mention, Sentiment
from listener.store import SyncStore
from models.base import Classification
from tests.analytics.conftest import analytics_settings
from tests.analytics.seed import Seeded, save_labels

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
DANA = "dana-token-0123456789abcdef"
SHARED = "shared-token-0123456789abc"


def _clock(path: Path, name: str, age_minutes: int, brand: str = "acme") -> str:
    store = SyncStore(path)
    store.set_competitors(["globex"])
    at = NOW - timedelta(minutes=age_minutes)
    mention = Mention(source="mastodon", external_id=name, text=name, author=f"@{name}", created_at=at, brands=(brand,))
    store.ingest("mastodon", [mention], [], None, at)
    label = Classification(model_id="t", scored=True, sentiment=Sentiment.NEGATIVE, complaint=True, language="en")
    save_labels(store, [(mention, label)], at)
    store.close()
    return mention.key


@pytest.fixture
def db(seeded: Seeded, tmp_path: Path) -> Path:
    path = tmp_path / "queue.db"
    with sqlite3.connect(seeded.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    for name, age in (("soon", 50), ("later", 10), ("late", 70)):
        _clock(path, name, age)
    _clock(path, "rival", 20, brand="globex")
    return path


@pytest.fixture
async def client(db: Path, aiohttp_client: Any) -> TestClient:
    settings = analytics_settings(db, token=SHARED, users={"dana": DANA})
    return await aiohttp_client(build_app(db, settings, clock=FakeClock(NOW), live_interval_s=0.05))


def _auth(token: str = DANA) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_queue_is_ours_by_default_due_then_overdue(client: TestClient) -> None:
    body = await (await client.get("/api/queue", params={"since": "30d"}, headers=_auth())).json()
    assert [i["mention_key"] for i in body["due"]] == ["mastodon:soon", "mastodon:later"]
    overdue = body["overdue"]
    assert overdue[0]["mention_key"] == "mastodon:late"  # the newest breach first
    assert [i["deadline"] for i in overdue] == sorted((i["deadline"] for i in overdue), reverse=True)
    assert all(i["brand"] == "acme" and i["is_complaint"] for i in body["due"] + overdue)
    assert body["counts"]["complaints"] == len(body["due"]) + len(overdue) == sum(body["totals"].values())
    assert body["counts"]["competitors"] >= 1
    rivals = await (await client.get("/api/queue", params={"since": "30d", "tab": "competitors"},
                                     headers=_auth())).json()
    assert {i["brand"] for i in rivals["due"] + rivals["overdue"]} == {"globex"}
    assert rivals["due"][0]["mention_key"] == "mastodon:rival"
    # The range applies: an older open clock is outside 24 hours.
    day = await (await client.get("/api/queue", params={"since": "24h"}, headers=_auth())).json()
    assert day["counts"]["complaints"] == 3


async def test_queue_filters_and_facets(client: TestClient) -> None:
    params = {"since": "30d", "source": "mastodon", "assignee": "(unassigned)", "policy": "default", "limit": "1"}
    body = await (await client.get("/api/queue", params=params, headers=_auth())).json()
    assert len(body["due"]) == 1 and body["totals"]["due"] == 2  # limit is per group; totals say how many
    assert all(i["source"] == "mastodon" for i in body["due"] + body["overdue"])
    facets = body["facets"]
    assert {f["value"] for f in facets["policy"]} == {"default"}
    everything = await (await client.get("/api/queue", params={"since": "30d"}, headers=_auth())).json()
    assert sum(f["count"] for f in facets["source"]) == everything["counts"]["complaints"]  # pickers list all
    assert body["counts"]["complaints"] < everything["counts"]["complaints"]  # counts follow the filters
    bad = await client.get("/api/queue", params={"tab": "mine"}, headers=_auth())
    assert bad.status == 400


async def test_tokens_identify_users_and_actions_need_the_daemon(client: TestClient) -> None:
    assert (await client.get("/api/queue")).status == 401
    assert (await client.get("/api/queue", headers=_auth("wrong-token-0123456789"))).status == 401
    me = await (await client.get("/api/whoami", headers=_auth())).json()
    assert (me["user"], me["via"], me["actions"]) == ("dana", "web/user-token", False)
    assert "dana" in me["people"] and me["people"] == sorted(me["people"])  # token names and past assignees
    shared = await (await client.get("/api/whoami", headers=_auth(SHARED))).json()
    assert shared["user"] is None and shared["via"] == "web/shared-token"
    action = {"mention_key": "mastodon:soon", "action": "ack", "request_id": "r-000001"}
    resp = await client.post("/api/actions", json=action, headers=_auth())
    assert resp.status == 503 and "read-only" in (await resp.json())["error"]


async def test_events_announce_changes_made_elsewhere(client: TestClient, db: Path) -> None:
    resp = await client.get("/api/events", headers=_auth())
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")

    async def frame() -> str:
        text = b""
        while not text.endswith(b"\n\n"):
            text += await asyncio.wait_for(resp.content.readline(), 10)
        return text.decode()

    assert "event: hello" in await frame()
    await asyncio.sleep(0.3)  # the watcher has read the first signature
    await asyncio.get_running_loop().run_in_executor(None, _clock, db, "news", 1)
    assert "event: queue" in await frame()
    resp.close()


async def test_an_open_event_stream_does_not_hold_up_shutdown(db: Path) -> None:
    import time

    import aiohttp
    from aiohttp import web

    runner = web.AppRunner(build_app(db, analytics_settings(db), clock=FakeClock(NOW)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"http://127.0.0.1:{port}/api/events")
        assert b"event: hello" in await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        started = time.monotonic()
        await asyncio.wait_for(runner.cleanup(), 10)
        assert time.monotonic() - started < 5  # aiohttp would otherwise wait up to a minute for the handler
        resp.close()


def test_listener_api_on_its_own_lets_the_queue_act(db: Path, tmp_path: Path) -> None:
    """`listener api` without the daemon: actions are recorded like `listener ack`'s (the daemon delivers alerts)."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "listener", "api", "--db", str(db), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/whoami", timeout=5) as resp:  # noqa: S310 - loopback
                    assert json.load(resp)["actions"] is True
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.3)
        body = json.dumps({"mention_key": "mastodon:soon", "action": "ack", "request_id": "cli-000001", "by": "ann"})
        request = urllib.request.Request(
            base + "/api/actions", data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
            assert json.load(resp) == {"result": "done", "by": "ann"}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    with sqlite3.connect(db) as conn:
        acked = conn.execute("SELECT acked_by FROM complaints WHERE mention_key = 'mastodon:soon'").fetchone()
        assert acked == ("ann",)
        assert conn.execute("SELECT user, via FROM actions WHERE request_key = 'web:cli-000001'").fetchone() == (
            "ann", "web/open")
