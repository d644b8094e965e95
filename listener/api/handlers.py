"""The REST endpoints: the same report functions as the CLI, on read-only connections in threads."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from listener.analytics.db import connect_readonly
from listener.analytics.filters import EVERY
from listener.analytics.listing import STATES, MentionQuery, list_complaints, list_mentions
from listener.analytics.queue import TABS, QueueQuery, queue
from listener.analytics.sla import DIMENSIONS as SLA_DIMENSIONS
from listener.analytics.sla import sla_report
from listener.analytics.trends import DIMENSIONS as TREND_DIMENSIONS
from listener.analytics.trends import trends
from listener.api import params
from listener.api.auth import IDENTITY_KEY, OPEN, Identity
from listener.api.live import QueueWatcher, stream_events
from listener.clock import Clock
from listener.interact import ActionError, ActionRequest, ClockActions

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

    def __init__(
        self,
        competitors: frozenset[str],
        brands: list[str],
        clock: Clock,
        sla_target_s: float,
        *,
        actions: ClockActions | None = None,
        watcher: QueueWatcher | None = None,
        people: tuple[str, ...] = (),
    ) -> None:
        self.competitors = competitors
        self.brands = brands
        self.clock = clock
        self.sla_target_s = sla_target_s
        self.actions = actions  # None: the queue is served read-only
        self.watcher = watcher
        self.people = people  # the per-user token names: whom the page offers to assign to

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


async def queue_handler(request: web.Request) -> web.Response:
    """GET /api/queue: one tab of open clocks, due (next deadline first) and overdue (newest breach first)."""
    db, ctx = _ctx(request)
    q = request.query
    f = params.filters(q, default_since=None, align=None, now=ctx.now())
    query = QueueQuery(
        tab=params.one(q, "tab", "complaints", TABS) or "complaints",
        policies=params.values(q, "policy"),
        assignees=params.values(q, "assignee"),
    )
    result = await db.run(queue, f, query, competitors=ctx.competitors, now=ctx.now(), limit=params.limit(q, 200))
    return web.json_response(result)


def _who(identity: Identity, body: dict[str, object]) -> str:
    """A per-user token names the actor; otherwise the page says who is at the keyboard (default "web")."""
    if identity.user is not None:
        return identity.user
    given = body.get("by")
    return given.strip() if isinstance(given, str) and given.strip() else "web"


async def action_handler(request: web.Request) -> web.Response:
    """POST /api/actions: apply a queue action through the same code path as Slack's buttons."""
    _db, ctx = _ctx(request)
    if ctx.actions is None:
        return web.json_response(
            {"error": "this server is read-only: it was started without actions"}, status=503
        )
    # Only our own page's fetch() can send JSON with these headers: a cross-site form cannot (CSRF).
    if request.content_type != "application/json":
        return web.json_response({"error": "send application/json"}, status=415)
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body is not JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    identity: Identity = request.get(IDENTITY_KEY, OPEN)
    request_id = body.get("request_id")
    minutes = body.get("snooze_minutes", 30)
    assignee = body.get("assignee")
    if not isinstance(request_id, str) or not 8 <= len(request_id) <= 100:
        return web.json_response({"error": "request_id (8 to 100 characters) is required"}, status=400)
    if not isinstance(minutes, int | float) or isinstance(minutes, bool):
        return web.json_response({"error": "snooze_minutes must be a number"}, status=400)
    if assignee is not None and not isinstance(assignee, str):
        return web.json_response({"error": "assignee must be a name"}, status=400)
    try:
        action = ActionRequest(
            mention_key=str(body.get("mention_key") or ""),
            action=str(body.get("action") or ""),
            user=_who(identity, body),
            request_key=f"web:{request_id}",
            via=identity.via,
            assignee=assignee.strip() if isinstance(assignee, str) else None,
            snooze=timedelta(minutes=minutes),
        )
    except ActionError as err:
        return web.json_response({"error": str(err)}, status=400)
    result = await ctx.actions.apply(action)
    return web.json_response({"result": result, "by": action.user})


async def events_handler(request: web.Request) -> web.StreamResponse:
    """GET /api/events: server-sent events telling the page to refresh its queue."""
    _db, ctx = _ctx(request)
    if ctx.watcher is None:
        return web.json_response({"error": "live updates are off"}, status=404)
    return await stream_events(request, ctx.watcher)


def _assignees(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT assigned_to FROM complaints WHERE assigned_to IS NOT NULL AND assigned_to != '' "
        "ORDER BY 1 LIMIT 200"
    )
    return [r[0] for r in rows]


async def whoami_handler(request: web.Request) -> web.Response:
    """GET /api/whoami: who the token proved to be, whether actions are on, and names to assign to."""
    db, ctx = _ctx(request)
    identity: Identity = request.get(IDENTITY_KEY, OPEN)
    people = sorted(set(ctx.people) | set(await db.run(_assignees)))
    return web.json_response(
        {"user": identity.user, "via": identity.via, "actions": ctx.actions is not None, "people": people}
    )
