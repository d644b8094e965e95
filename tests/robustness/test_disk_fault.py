"""A running daemon whose disk refuses writes, then gets room back: the same process catches up by itself.

The daemon is a real process polling a loopback feed. Its writes fail either because its
RLIMIT_FSIZE is lowered (every write past the first byte of a file fails) or because the small
filesystem holding its database is filled up (root only: a tmpfs; writes into space already
allocated still work, as on a real full disk). Then the room comes back: nothing is lost,
`listener health` tells the truth on both sides, and the log has one line when the trouble starts
and one when it ends.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.connectors.fake_rss import FakeFeeds

ROOT = Path(__file__).resolve().parents[2]
FEED = "/acme.rss"
pytestmark = pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="needs Linux prlimit")


def rss(count: int) -> str:
    """A feed of `count` complaints about acme by as many customers, newest first."""
    now = format_datetime(datetime.now(UTC))
    items = "".join(
        f"<item><title>{escape(f'acme order {i} arrived broken, worst service')}</title>"
        f"<link>https://shop.example.net/reviews/{i}</link><guid isPermaLink=\"false\">review-{i}</guid>"
        f"<pubDate>{now}</pubDate><author>buyer{i}@mail.example.net (Buyer {i})</author>"
        f"<description>{escape(f'review {i}: still broken after a week')}</description>"
        "</item>"
        for i in reversed(range(count))
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Reviews</title>{items}</channel></rss>'


def counts(db: Path) -> tuple[int, int, int]:
    """(stored, classified, open clocks), read without writing."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        stored, classified = conn.execute(
            "SELECT count(*), count(classified_at) FROM mentions WHERE source = 'feed'").fetchone()
        clocks = conn.execute("SELECT count(*) FROM complaints WHERE state = 'open'").fetchone()[0]
        return stored, classified, clocks
    finally:
        conn.close()


async def eventually(check: Callable[[], bool], seconds: float) -> bool:
    """Poll `check` until it holds or `seconds` pass."""
    for _ in range(int(seconds / 0.1)):
        if check():
            return True
        await asyncio.sleep(0.1)
    return check()


def health(config: Path, max_age: str) -> subprocess.CompletedProcess[str]:
    """`listener health` as the Docker HEALTHCHECK runs it."""
    return subprocess.run([sys.executable, "-m", "listener", "health", "--config", str(config), "--max-age", max_age],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


class Fault:
    """How the disk goes bad for the daemon process, and how it gets better."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self.directory = directory
        self.filler = directory / "filler"
        self.limits = resource.getrlimit(resource.RLIMIT_FSIZE)

    def start(self, pid: int) -> None:
        """Make the daemon's writes fail."""
        if self.kind == "rlimit":
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, self.limits[1]))
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT)
        try:
            for size in (1 << 20, 1 << 14, 1 << 10, 1):  # until not one more byte fits
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError:
                        break
        finally:
            os.close(fd)

    def end(self, pid: int) -> None:
        """Give the room back."""
        if self.kind == "rlimit":
            resource.prlimit(pid, resource.RLIMIT_FSIZE, self.limits)
        else:
            self.filler.unlink()


@pytest.fixture(params=["rlimit", "full_disk"])
def fault(request, tmp_path: Path) -> Iterator[Fault]:  # type: ignore[no-untyped-def]
    """A way to break the disk, with the directory the database must live in."""
    if request.param == "rlimit":
        yield Fault("rlimit", tmp_path)
        return
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                                           capture_output=True).returncode:
        pytest.skip("filling a small filesystem needs a tmpfs mount (root)")
    try:
        yield Fault("full_disk", disk)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


async def test_daemon_catches_up_after_the_disk_refuses_writes(aiohttp_server, tmp_path: Path, fault: Fault) -> None:
    """Writes fail for several seconds; afterwards every mention is stored and classified, clocks open."""
    fake = FakeFeeds()
    fake.documents[FEED] = (rss(10), "application/rss+xml")
    server = await aiohttp_server(fake.app())
    db = fault.directory / "listener.db"
    config = tmp_path / "listener.toml"
    config.write_text(f"""
[listener]
database = "{db}"
log_level = "INFO"
shutdown_grace = "2s"
[sla]
target = "1h"
warn_after = "30m"
sweep_interval = "300ms"
[brands.acme]
keywords = ["acme"]
[connectors.feed]
type = "rss"
feeds = ["http://127.0.0.1:{server.port}{FEED}"]
poll_interval = "200ms"
jitter = "0s"
[alerts]
dispatch_interval = "200ms"
""")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.robustness.fault_runner", str(config), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    log: list[str] = []

    async def collect() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            log.append(line.decode(errors="replace").rstrip())

    reader = asyncio.create_task(collect())
    try:
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"started", log
        assert await eventually(lambda: counts(db) == (10, 10, 10), 30), counts(db)

        fault.start(proc.pid)  # the disk is full
        fake.documents[FEED] = (rss(30), "application/rss+xml")  # and twenty more complaints arrive
        await asyncio.sleep(4)
        assert counts(db)[0] == 10  # nothing could be written
        during = await asyncio.to_thread(health, config, "2s")
        assert during.returncode == 1, during.stdout + during.stderr

        fault.end(proc.pid)  # room again
        assert await eventually(lambda: counts(db) == (30, 30, 30), 90), (counts(db), log)

        def healthy() -> bool:
            return health(config, "5s").returncode == 0

        assert await eventually(healthy, 60), (health(config, "5s").stderr, log)
    finally:
        if fault.filler.exists():
            fault.filler.unlink()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
        await reader
    assert proc.returncode == 0, log
    assert not any("Traceback" in line for line in log), "\n".join(log)
    loud = [line for line in log if " WARNING " in line or " ERROR " in line]
    assert len(loud) == 1 and "database writes are failing" in loud[0], "\n".join(log)
    assert sum("database writes work again" in line for line in log) == 1, "\n".join(log)
    sources = subprocess.run([sys.executable, "-m", "listener", "sources", "--format", "json", "--config", str(config)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert '"state": "up"' in sources.stdout, sources.stdout + sources.stderr
