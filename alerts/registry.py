"""Built-in sinks by config table name, imported lazily by dotted path (like connectors/registry.py)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp
    from rich.console import Console

    from listener.clock import Clock

# Table under [alerts] -> "module:Class". The order is the build order (and the dispatcher's).
BUILTIN: dict[str, str] = {
    "slack": "alerts.slack:SlackSink",
    "teams": "alerts.teams:TeamsSink",
    "email": "alerts.mail:EmailSink",
    "webhook": "alerts.webhook:WebhookSink",
    "pagerduty": "alerts.pagerduty:PagerDutySink",
    "zendesk": "alerts.zendesk:ZendeskSink",
    "freshdesk": "alerts.freshdesk:FreshdeskSink",
    "mqtt": "alerts.mqtt:MqttSink",
    "console": "alerts.console:ConsoleSink",
}


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What the daemon lends every sink: the shared HTTP session, the clock and the terminal."""

    session: aiohttp.ClientSession
    clock: Clock | None = None
    console: Console | None = None


def sink_class(name: str) -> Any:
    """Import and return the sink class registered as `name` (it has `from_settings(settings, context)`)."""
    try:
        dotted = BUILTIN[name]
    except KeyError:
        raise KeyError(name) from None
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def is_configured(settings: Any) -> bool:
    """Whether a sink's table asks for the sink: its `configured` property, else `enabled`."""
    configured = getattr(settings, "configured", None)
    return bool(configured) if configured is not None else bool(getattr(settings, "enabled", False))


def known_sinks() -> list[str]:
    """Names of every sink table this build knows, in build order."""
    return list(BUILTIN)
