"""SIGKILL the daemon at random points, twenty times, and check that nothing was lost or doubled."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from listener.store import SyncStore

ROOT = Path(__file__).resolve().parents[1]
KILLS = 20
TOTAL = 120  # every even-numbered mention is a complaint
COMPLAINTS = TOTAL // 2
pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def write_sample(path: Path, now: datetime) -> None:
    """Complaints whose 2-second deadlines pass while the daemon is being killed, and praise."""
    lines = []
    for i in range(TOTAL):
        complaint = i % 2 == 0
        text = (f"acme my router #{i} is broken again, worst week" if complaint
                else f"acme thanks for the quick help with order {i}, love it")
        lines.append(json.dumps({
            "id": f"m{i:04d}", "text": text, "author": f"@customer{i}",
            "created_at": (now + timedelta(milliseconds=50 * i)).isoformat(),
        }))
    path.write_text("\n".join(lines) + "\n")


def write_config(path: Path, sample: Path, db: Path, broker: Any, extra: str = "") -> None:
    """The daemon's config: fast clocks and retries, MQTT, and `extra` tables (more sinks)."""
    path.write_text(f"""
[listener]
database = "{db}"
shutdown_grace = "2s"
[sla]
target = "2s"
warn_after = "1s"
sweep_interval = "1s"
[brands.acme]
keywords = ["acme"]
[connectors.feed]
type = "jsonl"
path = "{sample}"
max_records = 4
poll_interval = "100ms"
jitter = "0s"
[classifier]
batch_size = 4
max_wait = "20ms"
[alerts]
dispatch_interval = "200ms"
retry_base = "100ms"
retry_max = "1s"
[alerts.mqtt]
enabled = true
host = "{broker.host}"
port = {broker.port}
topic_prefix = "crash"
timeout = "2s"
{extra}""")


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    store = SyncStore(db)
    try:
        return store.counts()["mentions"]
    finally:
        store.close()


async def start(config: Path) -> asyncio.subprocess.Process:
    """Start the daemon and return once it reports that every stage is running."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.crash_runner", str(config), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, "the daemon exited before it started"
        if line.strip() == b"started":
            return proc


async def kill_at_random_points(config: Path, db: Path, seed: int = 20261122) -> list[int]:
    """Start and SIGKILL the daemon KILLS times; check the kills landed mid-work; return mentions stored after each."""
    rng = random.Random(seed)
    progress = []
    for _ in range(KILLS):
        proc = await start(config)
        await asyncio.sleep(rng.uniform(0.05, 0.6))  # somewhere in polling, classifying or delivering
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        progress.append(_stored(db))
    # The kills really landed mid-work: the backlog was worked off across many of them.
    assert progress[0] < TOTAL and len(set(progress)) >= 5, progress
    return progress


async def test_sigkill_at_random_points_loses_and_doubles_nothing(mosquitto, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sample, db, config = tmp_path / "sample.jsonl", tmp_path / "crash.db", tmp_path / "listener.toml"
    write_sample(sample, datetime.now(UTC))
    write_config(config, sample, db, mosquitto)
    received: list[dict[str, Any]] = []

    async def subscribe() -> None:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            await client.subscribe("crash/#", qos=1)
            async for message in client.messages:
                received.append(json.loads(message.payload))

    listener = asyncio.create_task(subscribe())
    await asyncio.sleep(0.3)
    await kill_at_random_points(config, db)
    final = await start(config)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kinds = Counter(p["kind"] for p in {p["id"]: p for p in received}.values())
        if kinds["mention"] >= TOTAL and kinds["breach"] >= COMPLAINTS:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # anything still to come would be a duplicate: give it the chance
    final.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(final.communicate(), 30)
    listener.cancel()
    assert final.returncode == 0, out.decode()
    assert b"listener stopped after" in out

    store = SyncStore(db)
    try:
        counts = store.counts()
        keys = [r[0] for r in store.db.execute("SELECT key FROM mentions")]
        clocks = store.complaints()
    finally:
        store.close()
    # No mention lost, none duplicated, every one classified.
    assert counts["mentions"] == TOTAL == len(set(keys))
    assert counts["classified"] == counts["mentions"]
    assert counts["complaints"] == COMPLAINTS
    # Every clock passed its deadline while the daemon was being killed: all breached, all alerted.
    assert all(c.breached_at is not None for c in clocks)
    ids = Counter(p["id"] for p in received)
    breaches = {i for i in ids if i.endswith(":breach")}
    assert breaches == {f"{c.mention_key}:breach" for c in clocks}
    assert len([i for i in ids if i.endswith(":mention")]) == TOTAL
    # At-least-once: a crash between publishing and recording may repeat one event, no more.
    duplicates = sum(n - 1 for n in ids.values())
    assert duplicates <= KILLS, f"{duplicates} duplicate deliveries for {KILLS} crashes"
