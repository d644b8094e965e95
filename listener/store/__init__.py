"""SQLite store (sqlite-utils, WAL): persistence only, every read and write on one dedicated thread.

The parts: `db` (connection, time format, the engine it is given), `outbox`, `mentions`, `clocks`
(writing what the case engine decided, the sweep), `cases` (filing mentions, replies and actions
into cases), `health`, `rollups` (the listening job's reads) and `reports` (read models). The case
rules themselves live in `listener.sla.cases`; the store hands each case's history to its engine.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from listener.events import Delivery
from listener.store.cases import CORRECTION_DISMISSALS_SQL, read_case_messages
from listener.store.db import CaseEngine, Executes, SinkRouter, iso, parse_iso
from listener.store.mentions import edited_at
from listener.store.outbox import Claim, Outcomes
from listener.store.reports import Complaint, ReportStore
from listener.store.rollups import (
    HOURLY_BRAND_COUNTS_SQL,
    LISTENED_MENTIONS_SQL,
    SERIES_FIRST_HOUR_SQL,
    SERIES_FIRST_HOURS_SQL,
    ListenedMention,
    ListeningOutcome,
    hour_key,
    listened_mention,
    parse_hour,
    read_hourly_brand_counts,
    read_series_first_hour,
    read_series_first_hours,
)

__all__ = [
    "CORRECTION_DISMISSALS_SQL", "HOURLY_BRAND_COUNTS_SQL", "LISTENED_MENTIONS_SQL", "SERIES_FIRST_HOURS_SQL",
    "SERIES_FIRST_HOUR_SQL", "CaseEngine", "Claim", "Complaint", "Delivery", "Executes",
    "ListenedMention", "ListeningOutcome", "Outcomes",
    "SinkRouter", "Store", "SyncStore", "edited_at", "hour_key", "iso", "listened_mention", "parse_hour",
    "parse_iso", "read_case_messages", "read_hourly_brand_counts", "read_series_first_hour",
    "read_series_first_hours",
]

P = ParamSpec("P")
T = TypeVar("T")


class SyncStore(ReportStore):
    """The store's real implementation; use it from one thread only (see `Store`)."""


class Store:
    """Async facade: runs every `SyncStore` call on one dedicated thread, off the event loop.

    Calls are typed: `await store.call(SyncStore.ingest, source, mentions, ...)` is checked
    against `SyncStore.ingest`'s signature like a direct call.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._sync: SyncStore | None = None

    async def open(self) -> Store:
        """Open the database and apply migrations (on the store thread)."""
        self._sync = await self._call(SyncStore, self.path)
        return self

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        if self._sync is not None:
            await self._call(self._sync.close)
            self._sync = None
        self._executor.shutdown(wait=True)

    async def call(self, method: Callable[Concatenate[SyncStore, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `method` (a `SyncStore` method) on the store thread with these arguments."""
        if self._sync is None:
            raise RuntimeError("store is not open")
        return await self._call(method, self._sync, *args, **kwargs)

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
