"""Assemble the aiohttp application (API, dashboard, static assets) and start it on a socket."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from aiohttp import web

from config.schema import Settings
from listener.analytics.db import DatabaseMissing, QueryRefused
from listener.analytics.filters import FilterError
from listener.api import handlers
from listener.api.auth import bearer_middleware
from listener.api.live import QueueWatcher
from listener.api.openapi import spec
from listener.clock import Clock, SystemClock
from listener.interact import ClockActions

logger = logging.getLogger(__name__)
STATIC = Path(str(resources.files("listener.api") / "static"))
_SECURITY_HEADERS = {
    # The dashboard loads only its own files: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bad parameters become 400 with a message; a missing database 503."""
    try:
        response = await handler(request)
    except (FilterError, QueryRefused) as err:
        response = web.json_response({"error": str(err)}, status=400)
    except DatabaseMissing as err:
        response = web.json_response({"error": str(err)}, status=503)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _no_icon(_request: web.Request) -> web.Response:
    return web.Response(status=204)  # browsers ask for it; a 404 would fill their consoles with errors


async def _openapi(_request: web.Request) -> web.Response:
    return web.json_response(spec())


def build_app(
    store_path: Path | str,
    settings: Settings,
    *,
    clock: Clock | None = None,
    actions: ClockActions | None = None,
    live_interval_s: float = 1.0,
) -> web.Application:
    """The API, dashboard and web queue over the database at `store_path`.

    Reads run on read-only connections; queue actions go through `actions` (the daemon's store, the
    same path as Slack's buttons) and are refused when it is None.
    """
    token = settings.api.token.get_secret_value() if settings.api.token else None
    users = {name: secret.get_secret_value() for name, secret in settings.api.users.items()}
    app = web.Application(middlewares=[_errors, bearer_middleware(token, users)])
    db = handlers.ReadOnlyDb(store_path)
    watcher = QueueWatcher(store_path, interval_s=live_interval_s)
    app[handlers.DB_KEY] = db
    app[handlers.CONTEXT_KEY] = handlers.ApiContext(
        competitors=frozenset(n for n, b in settings.brands.items() if b.competitor),
        brands=sorted(settings.brands),
        clock=clock or SystemClock(),
        sla_target_s=settings.sla.target.total_seconds(),
        actions=actions,
        watcher=watcher,
        people=tuple(sorted(users)),
    )
    if actions is not None:
        actions.on_applied(lambda request, result: watcher.notify("action", result=result))

    async def close_db(_app: web.Application) -> None:
        db.close()

    app.on_startup.append(watcher.start)
    app.on_shutdown.append(watcher.shutdown)
    app.on_cleanup.append(watcher.stop)
    app.on_cleanup.append(close_db)
    app.router.add_get("/", _index)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/api/openapi.json", _openapi)
    app.router.add_get("/api/mentions", handlers.mentions_handler)
    app.router.add_get("/api/complaints", handlers.complaints_handler)
    app.router.add_get("/api/trends", handlers.trends_handler)
    app.router.add_get("/api/sla", handlers.sla_handler)
    app.router.add_get("/api/meta", handlers.meta_handler)
    app.router.add_get("/api/queue", handlers.queue_handler)
    app.router.add_get("/api/whoami", handlers.whoami_handler)
    app.router.add_get("/api/events", handlers.events_handler)
    app.router.add_post("/api/actions", handlers.action_handler)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app


async def start_api(
    settings: Settings, store_path: Path | str, *, clock: Clock | None = None, actions: ClockActions | None = None
) -> web.AppRunner:
    """Start serving on `settings.api.host:port`; stop it with `await runner.cleanup()`."""
    app = build_app(store_path, settings, clock=clock, actions=actions)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api.host, settings.api.port)
    await site.start()
    logger.info("analytics API listening on %s:%s", settings.api.host, settings.api.port)
    return runner
