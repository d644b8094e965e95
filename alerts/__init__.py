"""Alert sinks (Slack, Teams, e-mail, webhook, PagerDuty, Zendesk, Freshdesk, MQTT, console), fed by the outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.registry import BUILTIN, SinkContext, is_configured, sink_class

if TYPE_CHECKING:
    import aiohttp
    from rich.console import Console

    from alerts.base import Sink
    from config.schema import AlertSettings
    from listener.clock import Clock


def build_sinks(
    settings: AlertSettings,
    session: aiohttp.ClientSession,
    *,
    clock: Clock | None = None,
    console: Console | None = None,
) -> list[Sink]:
    """The sinks that are configured and enabled, in registry order (slack … mqtt, console)."""
    context = SinkContext(session, clock, console)
    sinks: list[Sink] = []
    for name in BUILTIN:
        table = getattr(settings, name, None)
        # Imported only when configured, so a config with one sink never imports the others' libraries.
        if table is not None and is_configured(table):
            sinks.append(sink_class(name).from_settings(table, context))
    return sinks
