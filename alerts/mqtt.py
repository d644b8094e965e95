"""MQTT sink: every event as JSON on `<prefix>/<brand>/mentions` or `<prefix>/<brand>/alerts`.

The connection is opened on the first send and kept; when the broker goes away the failed
publish drops it, and the next send (or one immediate retry) connects again. A send that
cannot be delivered raises `SinkError`, so the outbox keeps the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from dataclasses import dataclass
from typing import ClassVar

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alerts._format import one_line
from alerts.base import Event, EventKind, Sink
from alerts.payload import encode
from alerts.registry import SinkContext
from config.schema import MqttSettings
from listener.errors import ConfigError, SinkError

logger = logging.getLogger(__name__)

SYSTEM_BRAND = "_system"
_SEGMENT_MAX = 200
# `+` and `#` are wildcards, `/` separates levels, NUL is forbidden in topic names.
_TOPIC_UNSAFE = re.compile(r"[+#/\x00]")


def topic_segment(value: str) -> str:
    """One topic level made from untrusted text: no wildcards, separators or control characters."""
    text = _TOPIC_UNSAFE.sub("_", one_line(value))[:_SEGMENT_MAX]
    # Levels starting with `$` are reserved for the broker ($SYS, $share).
    return "_" + text[1:] if text.startswith("$") else text or "_"


def topic_prefix(prefix: str) -> str:
    """The configured prefix with each level sanitised (it may have several levels, `a/b`)."""
    return "/".join(topic_segment(level) for level in prefix.split("/") if level.strip())


def topic_for(prefix: str, event: Event) -> str:
    """`<prefix>/<brand>/mentions` for MENTION events, `<prefix>/<brand>/alerts` for the rest."""
    leaf = "mentions" if event.kind == EventKind.MENTION else "alerts"
    brand = topic_segment(event.brand) if event.brand.strip() else SYSTEM_BRAND
    head = topic_prefix(prefix)
    return f"{head}/{brand}/{leaf}" if head else f"{brand}/{leaf}"


@dataclass(slots=True)
class _Link:
    """A connected client and the task that ends when its connection is lost."""

    client: aiomqtt.Client
    watcher: asyncio.Task[None]

    @property
    def alive(self) -> bool:
        return not self.watcher.done()


async def _watch(client: aiomqtt.Client) -> None:
    """Return when the connection drops.

    aiomqtt's public way to learn of a lost connection is its message iterator raising
    MqttError (nothing is subscribed, so no message ever arrives). Without this, a publish
    sent just as the broker died would wait for its acknowledgement until the timeout.
    """
    try:
        async for _ in client.messages:
            pass
    except aiomqtt.MqttError:
        return


class MqttSink(Sink):
    """Publish every event (mentions and alerts) to an MQTT broker with aiomqtt."""

    name: ClassVar[str] = "mqtt"
    noise_controls = False  # a machine consumer: every event, mutes and quiet hours do not apply

    def __init__(self, settings: MqttSettings) -> None:
        self._settings = settings
        self._timeout = settings.timeout.total_seconds()
        self._tls = self._tls_context(settings)
        self._link: _Link | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: MqttSettings, context: SinkContext) -> MqttSink:
        """Build from `[alerts.mqtt]` (the registry's entry point)."""
        return cls(settings)

    @staticmethod
    def _tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
        if not settings.tls:
            return None
        try:
            # The default context verifies the certificate and the host name; never relaxed.
            return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError([f"alerts.mqtt.ca_file: cannot load {settings.ca_file}: {err}"]) from None

    @property
    def connected(self) -> bool:
        """Whether a live broker connection is held."""
        return self._link is not None and self._link.alive

    def accepts(self, event: Event) -> bool:
        """Every kind: mentions and alerts alike."""
        return True

    def topic_for(self, event: Event) -> str:
        """The topic `event` is published on."""
        return topic_for(self._settings.topic_prefix, event)

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Publish `event` and wait for the broker's acknowledgement (QoS 1 and 2)."""
        topic, payload = self.topic_for(event), encode(event)
        link, fresh = await self._connection()
        try:
            await self._publish(link, topic, payload)
        except aiomqtt.MqttError as err:
            await self._drop(link)
            if fresh:
                raise SinkError(f"mqtt: publish of {event.id} failed: {err}") from None
            # The kept connection died under this publish (broker restart): one new attempt.
            logger.info("mqtt: connection to %s:%s lost; reconnecting", self._settings.host, self._settings.port)
            link, _ = await self._connection()
            try:
                await self._publish(link, topic, payload)
            except aiomqtt.MqttError as retry_err:
                await self._drop(link)
                raise SinkError(f"mqtt: publish of {event.id} failed: {retry_err}") from None
        return None

    async def close(self) -> None:
        """Disconnect from the broker (if connected)."""
        async with self._lock:
            if self._link is not None:
                await self._drop(self._link)

    async def _publish(self, link: _Link, topic: str, payload: bytes) -> None:
        """Publish and wait for the acknowledgement, or fail at once if the connection drops."""
        properties = Properties(PacketTypes.PUBLISH)
        properties.ContentType = "application/json"
        publish = asyncio.ensure_future(
            link.client.publish(topic, payload, qos=self._settings.qos, properties=properties, timeout=self._timeout)
        )
        try:
            await asyncio.wait((publish, link.watcher), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            publish.cancel()
            raise
        if publish.done():
            publish.result()
            return
        publish.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await publish
        raise aiomqtt.MqttError("connection lost before the broker acknowledged")

    async def _connection(self) -> tuple[_Link, bool]:
        """The kept connection, connecting first when there is none; `True` when just made."""
        async with self._lock:
            if self._link is not None:
                if self._link.alive:
                    return self._link, False
                await self._drop(self._link)
            settings = self._settings
            client = aiomqtt.Client(
                settings.host,
                settings.port,
                username=settings.username,
                password=settings.password.get_secret_value() if settings.password else None,
                identifier=settings.client_id or None,
                protocol=aiomqtt.ProtocolVersion.V5,
                tls_context=self._tls,
                timeout=self._timeout,
            )
            try:
                await client.__aenter__()
            except aiomqtt.MqttError as err:
                raise SinkError(f"mqtt: cannot connect to {settings.host}:{settings.port}: {err}") from None
            logger.info("mqtt: connected to %s:%s", settings.host, settings.port)
            watcher = asyncio.create_task(_watch(client), name=f"mqtt-watch-{settings.host}:{settings.port}")
            self._link = _Link(client, watcher)
            return self._link, True

    async def _drop(self, link: _Link) -> None:
        """Forget `link` and disconnect it, ignoring errors (it is usually dead already)."""
        if self._link is link:
            self._link = None
        try:
            await link.client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, OSError, TimeoutError) as err:
            logger.debug("mqtt: disconnect after failure raised %s", type(err).__name__)
        # A clean disconnect ends the watcher too; cancel covers a disconnect that timed out.
        link.watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await link.watcher
