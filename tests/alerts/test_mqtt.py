"""MqttSink against a real Mosquitto: topics, JSON payloads, QoS, broker loss and reconnection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiomqtt
import pytest

from alerts.base import Event, EventKind
from alerts.mqtt import MqttSink, encode, topic_for, topic_prefix, topic_segment
from config.schema import MqttSettings
from listener.errors import SinkError
from tests.brokers import Mosquitto

WAIT = 5.0  # upper bound for a message to arrive on loopback; normally milliseconds


class Subscriber:
    """Messages received by a test client subscribed to a filter."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self._arrived = asyncio.Event()

    async def run(self) -> None:
        async for message in self.client.messages:
            self.messages.append(message)
            self._arrived.set()

    async def wait_for(self, count: int) -> list[aiomqtt.Message]:
        """Wait until `count` messages arrived (fails after WAIT seconds)."""
        async with asyncio.timeout(WAIT):
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.messages


@asynccontextmanager
async def subscribed(broker: Mosquitto, topic_filter: str) -> AsyncIterator[Subscriber]:
    """A connected client subscribed (QoS 1) to `topic_filter`."""
    async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe(topic_filter, qos=1)
        subscriber = Subscriber(client)
        task = asyncio.create_task(subscriber.run(), name="test-subscriber")
        try:
            yield subscriber
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


def sink_for(broker: Mosquitto, **overrides: Any) -> MqttSink:
    """A sink pointed at the test broker with a short timeout."""
    values: dict[str, Any] = {"enabled": True, "host": broker.host, "port": broker.port, "timeout": "2s"}
    values.update(overrides)
    return MqttSink(MqttSettings(**values))


@pytest.mark.mqtt
async def test_events_arrive_as_json_on_their_topics(mosquitto: Mosquitto, make_event: Callable[..., Event]) -> None:
    sink = sink_for(mosquitto)
    events = [
        make_event(EventKind.MENTION),
        make_event(EventKind.BREACH),
        make_event(EventKind.SOURCE, brand="", detail="mastodon: 401 Unauthorized"),
    ]
    try:
        async with subscribed(mosquitto, "listener/#") as subscriber:
            for event in events:
                assert await sink.send(event, None) is None
            received = await subscriber.wait_for(3)
    finally:
        await sink.close()
    by_topic = {message.topic.value: message for message in received}
    assert set(by_topic) == {"listener/acme/mentions", "listener/acme/alerts", "listener/_system/alerts"}
    topics = ["listener/acme/mentions", "listener/acme/alerts", "listener/_system/alerts"]
    for event, topic in zip(events, topics, strict=True):
        message = by_topic[topic]
        assert message.qos == 1
        assert isinstance(message.payload, bytes)
        payload = json.loads(message.payload)
        assert payload == {"schema_version": 1, **event.to_dict()}
    assert json.loads(by_topic["listener/acme/alerts"].payload)["deadline"] == "2026-01-05T09:59:00+00:00"


@pytest.mark.mqtt
async def test_hostile_brand_stays_one_topic_level(mosquitto: Mosquitto, make_event: Callable[..., Event]) -> None:
    sink = sink_for(mosquitto, topic_prefix="acme-corp/social", qos=0)
    try:
        async with subscribed(mosquitto, "acme-corp/social/+/alerts") as subscriber:
            await sink.send(make_event(EventKind.WARN, brand="evil/#/+brand"), None)
            [message] = await subscriber.wait_for(1)
    finally:
        await sink.close()
    assert message.topic.value == "acme-corp/social/evil____brand/alerts"


@pytest.mark.mqtt
@pytest.mark.parametrize("loop_runs", [True, False], ids=["loop-sees-the-drop", "drop-found-by-publish"])
async def test_broker_restart_reconnects(
    mosquitto: Mosquitto, make_event: Callable[..., Event], loop_runs: bool
) -> None:
    sink = sink_for(mosquitto)
    try:
        await sink.send(make_event(EventKind.WARN), None)
        assert sink.connected
        if loop_runs:
            # As in the daemon: the event loop keeps running while the broker restarts.
            await asyncio.to_thread(mosquitto.restart)
        else:
            # The loop is blocked meanwhile, so the next publish is what meets the dead socket.
            mosquitto.restart()
        # The kept connection is dead: this send either reconnects and succeeds, or fails
        # with SinkError so the outbox retries it.
        with suppress(SinkError):
            await sink.send(make_event(EventKind.BREACH), None)
        async with subscribed(mosquitto, "listener/#") as subscriber:
            after = make_event(EventKind.REPLIED, response_seconds=600.0)
            await sink.send(after, None)
            [message] = await subscriber.wait_for(1)
        assert json.loads(message.payload)["id"] == after.id
    finally:
        await sink.close()


@pytest.mark.mqtt
async def test_broker_down_is_a_sink_error_then_recovers(
    mosquitto: Mosquitto, make_event: Callable[..., Event]
) -> None:
    sink = sink_for(mosquitto)
    try:
        await sink.send(make_event(EventKind.WARN), None)
        mosquitto.stop()
        with pytest.raises(SinkError):
            await sink.send(make_event(EventKind.BREACH), None)
        assert not sink.connected
        with pytest.raises(SinkError):  # still down: a fresh connect fails too
            await sink.send(make_event(EventKind.BREACH), None)
        mosquitto.start()
        async with subscribed(mosquitto, "listener/acme/alerts") as subscriber:
            await sink.send(make_event(EventKind.BREACH), None)
            [message] = await subscriber.wait_for(1)
        assert json.loads(message.payload)["kind"] == "breach"
    finally:
        await sink.close()


@pytest.mark.mqtt
async def test_connection_is_kept_between_sends(mosquitto: Mosquitto, make_event: Callable[..., Event]) -> None:
    sink = sink_for(mosquitto, client_id="listener-test-kept")
    try:
        for _ in range(5):
            await sink.send(make_event(EventKind.MENTION), None)
        assert sink.connected
    finally:
        await sink.close()
    assert not sink.connected
    log = mosquitto.log.read_text()
    assert log.count("New client connected") == 1, log
    assert "as listener-test-kept" in log


@pytest.mark.mqtt
async def test_unresponsive_broker_is_a_sink_error(mosquitto: Mosquitto, make_event: Callable[..., Event]) -> None:
    sink = sink_for(mosquitto, timeout="200ms")
    try:
        await sink.send(make_event(EventKind.WARN), None)
        mosquitto.pause()  # the socket stays open, the acknowledgement never comes
        try:
            with pytest.raises(SinkError):
                await sink.send(make_event(EventKind.BREACH), None)
        finally:
            mosquitto.resume()
        await sink.send(make_event(EventKind.BREACH), None)
        assert sink.connected
    finally:
        await sink.close()


# ---- pure helpers (no broker) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("acme", "acme"), ("a/b", "a_b"), ("+", "_"), ("#", "_"), ("$SYS", "_SYS"), ("", "_"), ("x\x00y\n", "xy")],
)
def test_topic_segment(value: str, expected: str) -> None:
    assert topic_segment(value) == expected


def test_topic_prefix_keeps_levels_but_no_wildcards() -> None:
    assert topic_prefix("acme/listener/") == "acme/listener"
    assert topic_prefix("a/+/#") == "a/_/_"
    assert topic_prefix("") == ""


def test_topic_for_without_prefix_or_brand(make_event: Callable[..., Event]) -> None:
    assert topic_for("", make_event(EventKind.MENTION)) == "acme/mentions"
    assert topic_for("p", make_event(EventKind.SOURCE, brand="  ")) == "p/_system/alerts"


def test_payload_survives_lone_surrogates_and_carries_the_facts_in_extra(make_event: Callable[..., Event]) -> None:
    event = make_event(EventKind.MENTION, text="bad \ud800 text 日本語", brands=("acme", "globex"), scored=True)
    data = json.loads(encode(event).decode("utf-8"))
    assert data["text"] == "bad ? text 日本語"
    assert data["extra"] == {"brands": ["acme", "globex"], "scored": True}


# ---- TLS ------------------------------------------------------------------------------------------


@pytest.mark.mqtt
async def test_tls_with_the_brokers_ca(mosquitto_tls: Mosquitto, make_event: Callable[..., Event]) -> None:
    assert mosquitto_tls.tls is not None
    sink = sink_for(mosquitto_tls, tls=True, ca_file=mosquitto_tls.tls.ca_file)
    try:
        await sink.send(make_event(EventKind.BREACH), None)
        assert sink.connected
    finally:
        await sink.close()
    assert "New client connected" in mosquitto_tls.log.read_text()


@pytest.mark.mqtt
async def test_tls_refuses_an_untrusted_certificate(mosquitto_tls: Mosquitto, make_event: Callable[..., Event]) -> None:
    # The system store does not know the throwaway CA: verification must fail, never be skipped.
    sink = sink_for(mosquitto_tls, tls=True)
    with pytest.raises(SinkError) as caught:
        await sink.send(make_event(EventKind.BREACH), None)
    assert "certificate" in str(caught.value).lower()
    assert not sink.connected
    assert "New client connected" not in mosquitto_tls.log.read_text()


def test_ca_file_needs_tls(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="ca_file needs tls"):
        MqttSettings(ca_file=tmp_path / "ca.pem")
