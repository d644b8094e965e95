"""Alert sinks: Slack, MQTT and the console, fed by the outbox dispatcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    """The sinks that are configured and enabled, in the order slack, mqtt, console."""
    # Imported here so that a config with only one sink never imports the others' libraries.
    sinks: list[Sink] = []
    if settings.slack.configured:
        from alerts.slack import SlackSink

        sinks.append(SlackSink(settings.slack, session, clock=clock))
    if settings.mqtt.enabled:
        from alerts.mqtt import MqttSink

        sinks.append(MqttSink(settings.mqtt))
    if settings.console.enabled:
        from alerts.console import ConsoleSink

        sinks.append(ConsoleSink(console, clock=clock))
    return sinks
