"""The REST endpoints: the same report functions as the CLI, on read-only connections in threads."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from listener.analytics.db import connect_readonly
from listener.analytics.filters import EVERY
from listener.analytics.listing import STATES, MentionQuery, list_complaints, list_mentions
from listener.analytics.sla import DIMENSIONS as SLA_DIMENSIONS
from listener.analytics.sla import sla_report
from listener.analytics.trends import DIMENSIONS as TREND_DIMENSIONS
from listener.analytics.trends import trends
from listener.api import params
from listener.clock import Clock

T = TypeVar("T")


class ReadOnlyDb:
    """Runs report functions on fresh read-only connections, off the event loop."""

    def __init__(self, path: Path | str, workers: int = 2) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="api-db")

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        conn = connect_readonly(self.path, timeout_s=30)
        try:
            return fn(conn, *args, **kwargs)
        finally:
            conn.close()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(conn, *args, **kwargs)` on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: self._call(fn, *args, **kwargs))

    def close(self) -> None:
        """Stop the worker threads."""
        self._executor.shutdown(wait=True)


class ApiContext:
    """What the handlers need from the configuration."""

    def __init__(self, competitors: frozenset[str], brands: list[str], clock: Clock, sla_target_s: float) -> None:
        self.competitors = competitors
        self.brands = brands
        self.clock = clock
        self.sla_target_s = sla_target_s

    def now(self) -> datetime:
        """The current time (a fake clock in tests)."""
        return self.clock.now().astimezone(UTC)


DB_KEY = web.AppKey("analytics_db", ReadOnlyDb)
CONTEXT_KEY = web.AppKey("analytics_context", ApiContext)


def _ctx(request: web.Request) -> tuple[ReadOnlyDb, ApiContext]:
    return request.app[DB_KEY], request.app[CONTEXT_KEY]


async def mentions_handler(request: web.Request) -> web.Response:
    """GET /api/mentions: newest first, keyset-paged."""
    db, ctx = _ctx(request)
    q = request.query
    f = params.filters(q, default_since=None, align=None, now=ctx.now())
    query = MentionQuery(
        sentiment=params.one(q, "sentiment", choices=("negative", "neutral", "positive")),
        complaint=params.flag(q, "complaint"),
    )
    result = await db.run(list_mentions, f, query, limit=params.limit(q), page=q.get("page"))
    return web.json_response(result)


async def complaints_handler(request: web.Request) -> web.Response:
    """GET /api/complaints: open ones as a queue (earliest deadline first), others newest first."""
    db, ctx = _ctx(request)
    q = request.query
    f = params.filters(q, default_since=None, align=None, now=ctx.now())
    result = await db.run(
        list_complaints,
        f,
        state=params.one(q, "state", choices=STATES),
        competitors=ctx.competitors,
        now=ctx.now(),
        limit=params.limit(q),
        page=q.get("page"),
    )
    return web.json_response(result)


async def trends_handler(request: web.Request) -> web.Response:
    """GET /api/trends: the same JSON as `listener trends --format json`."""
    db, ctx = _ctx(request)
    q = request.query
    every = params.one(q, "every", "day", EVERY) or "day"
    by = params.values(q, "by")
    if any(d not in TREND_DIMENSIONS for d in by):
        return web.json_response({"error": f"by must be among {', '.join(TREND_DIMENSIONS)}"}, status=400)
    f = params.filters(q, default_since="30d", align=every, now=ctx.now())
    return web.json_response(await db.run(trends, every=every, by=by, filters=f))


async def sla_handler(request: web.Request) -> web.Response:
    """GET /api/sla: the same JSON as `listener sla-report --format json`."""
    db, ctx = _ctx(request)
    q = request.query
    every = params.one(q, "every", None, EVERY)
    by = params.values(q, "by") or ("brand",)
    if any(d not in SLA_DIMENSIONS for d in by):
        return web.json_response({"error": f"by must be among {', '.join(SLA_DIMENSIONS)}"}, status=400)
    f = params.filters(q, default_since="30d", align=every or "day", now=ctx.now())
    report = await db.run(sla_report, by=by, every=every, filters=f, competitors=ctx.competitors, now=ctx.now())
    return web.json_response(report)


def _meta(conn: sqlite3.Connection) -> dict[str, list[str]]:
    return {
        "brands": [r[0] for r in conn.execute("SELECT DISTINCT brand FROM trend_brand_hourly ORDER BY 1")],
        "sources": [r[0] for r in conn.execute("SELECT DISTINCT source FROM trend_hourly ORDER BY 1")],
        "languages": [r[0] for r in conn.execute("SELECT DISTINCT language FROM trend_hourly ORDER BY 1")],
    }


async def meta_handler(request: web.Request) -> web.Response:
    """GET /api/meta: brands (competitors marked), sources and languages, for pickers."""
    db, ctx = _ctx(request)
    seen = await db.run(_meta)
    brands = sorted(set(ctx.brands) | set(seen["brands"]))
    return web.json_response(
        {
            "brands": [{"name": b, "competitor": b in ctx.competitors} for b in brands],
            "sources": seen["sources"],
            "languages": seen["languages"],
            "sla_target_s": ctx.sla_target_s,
            "now": ctx.now().isoformat().replace("+00:00", "Z"),
            "clock": "wall",
        }
    )
