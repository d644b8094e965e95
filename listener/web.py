"""The daemon's one HTTP server: REST API, dashboard, /metrics, Slack's interactivity endpoint, Meta's webhooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from listener.daemon import Daemon

logger = logging.getLogger(__name__)


async def start_web(daemon: Daemon) -> web.AppRunner | None:
    """Start serving on `[api]` host and port when the API, Slack buttons or Meta webhooks are configured."""
    from listener.webhooks import meta_webhook_targets

    settings = daemon.settings
    secret = settings.alerts.slack.signing_secret
    secret_value = secret.get_secret_value().strip() if secret else ""
    hook_targets = meta_webhook_targets(poller.connector for poller in daemon.pollers)
    if not settings.api.enabled and not secret_value and not hook_targets:
        return None
    from listener.interact import ClockActions

    # Slack's buttons and the web queue's actions share this one path into the store.
    actions = ClockActions(daemon.store, daemon.route, daemon.clock.now)
    if settings.api.enabled:
        from listener.api.server import build_app
        from listener.metrics import metrics_handler

        app = build_app(settings.listener.database, settings, clock=daemon.clock, actions=actions)
        # Prometheus scrapes the same port; the bearer token (when set) guards it like /api/.
        app.router.add_get("/metrics", metrics_handler(daemon))
    else:
        app = web.Application()
    if secret_value:
        from listener.interact import slack_actions_handler

        app.router.add_post("/slack/actions", slack_actions_handler(secret_value, actions.apply))
    if hook_targets:
        from listener.webhooks import attach

        attach(app, hook_targets, daemon)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.api.host, settings.api.port)
    await site.start()
    daemon.web_port = _bound_port(site) or settings.api.port
    logger.info("serving %s on %s:%s", "API and dashboard" if settings.api.enabled else "Slack actions or webhooks",
                settings.api.host, daemon.web_port)
    return runner


def _bound_port(site: web.TCPSite) -> int | None:
    server = site._server  # port 0 in tests: ask the socket which port it got
    sockets = getattr(server, "sockets", None) or ()
    for sock in sockets:
        return int(sock.getsockname()[1])
    return None
