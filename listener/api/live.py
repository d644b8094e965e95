"""Live updates for the web queue: server-sent events when the queue may have changed.

One watcher per server polls a cheap signature of the clocks (only after SQLite's `data_version`
says another connection committed), so changes made by the daemon, by `listener ack` in another
process or by Slack's buttons reach every open page within about a second; actions taken through
this server are announced at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

logger = logging.getLogger(__name__)

# Enough to see a new clock, a closed or reopened one, an action, a restarted round (its deadline
# moves); the open clocks' part reads only the (state, deadline) index. The review list of unsure
# judgements changes with a new one (the partial index on unsure ones) or a label (`listener label`).
_SIGNATURE_SQL = """SELECT (SELECT MAX(id) FROM actions), (SELECT MAX(rowid) FROM complaints),
    (SELECT COUNT(*) FROM complaints WHERE state = 'open'),
    (SELECT total(julianday(deadline)) FROM complaints WHERE state = 'open'),
    (SELECT COUNT(*) FROM classifications WHERE unsure = 1), (SELECT MAX(id) FROM corrections)"""
HEARTBEAT_S = 15.0


class QueueWatcher:
    """Tells subscribed streams when the queue changed (polling) or an action was applied (at once)."""

    def __init__(self, path: Path | str, interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self.interval_s = interval_s
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-live")
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._signature: tuple[Any, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue that receives one message per change (None: the server is stopping)."""
        inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=16)
        self._subscribers.add(inbox)
        return inbox

    def unsubscribe(self, inbox: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Stop sending to `inbox`."""
        self._subscribers.discard(inbox)

    def notify(self, reason: str, **detail: Any) -> None:
        """Send `{"reason": ..., **detail}` to every subscriber (on the event loop's thread)."""
        message = {"reason": reason, **detail}
        for inbox in list(self._subscribers):
            if inbox.full():  # a stalled client needs one "reload" only
                continue
            inbox.put_nowait(message)

    def _poll(self) -> tuple[Any, ...] | None:
        """The clocks' signature when another connection has committed since the last poll, else None."""
        if self._conn is None:
            if not self.path.exists():
                return None
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._version:
            return None
        self._version = version
        return tuple(self._conn.execute(_SIGNATURE_SQL).fetchone())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                signature = await loop.run_in_executor(self._executor, self._poll)
            except sqlite3.Error as err:  # a busy or missing database: try again on the next tick
                logger.debug("live: cannot read the queue's signature: %s", err)
                signature = None
            if signature is not None and signature != self._signature:
                first = self._signature is None
                self._signature = signature
                if not first:
                    self.notify("changed")
            await asyncio.sleep(self.interval_s)

    async def start(self, _app: web.Application | None = None) -> None:
        """Begin polling (an aiohttp on_startup hook)."""
        self._task = asyncio.create_task(self._run(), name="queue-watcher")

    async def shutdown(self, _app: web.Application | None = None) -> None:
        """End every open stream (on_shutdown: before the server waits for handlers)."""
        for inbox in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                inbox.put_nowait(None)

    async def stop(self, _app: web.Application | None = None) -> None:
        """Stop polling and close the connection (an aiohttp on_cleanup hook)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def stream_events(request: web.Request, watcher: QueueWatcher) -> web.StreamResponse:
    """GET /api/events: `event: queue` whenever the queue may have changed, a comment as a heartbeat."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    inbox = watcher.subscribe()
    try:
        await response.write(b"retry: 3000\n" + _frame("hello", {}))
        while True:
            try:
                message = await asyncio.wait_for(inbox.get(), HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if message is None:
                break
            await response.write(_frame("queue", message))
    except ConnectionResetError:
        pass  # the page went away
    finally:
        watcher.unsubscribe(inbox)
    return response
