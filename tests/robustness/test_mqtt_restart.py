"""The MQTT broker restarted mid-run: the outbox keeps what could not be published, nothing is lost."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.base import Event, EventKind
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.store import Store, SyncStore
from tests.alerts.test_mqtt import sink_for, subscribed
from tests.brokers import Mosquitto

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _event(i: int, at: datetime) -> Event:
    return Event(id=f"e{i:03d}", kind=EventKind.BREACH, brand="acme", thread=f"m{i}", created_at=at,
                 source="social", mention_key=f"m{i}", text=f"complaint {i}")


@pytest.mark.mqtt
async def test_broker_restart_mid_run_loses_nothing(mosquitto: Mosquitto, tmp_path) -> None:
    """Events queued while the broker is down arrive, once each (by id), after it comes back."""
    clock = FakeClock(START)
    store = await Store(tmp_path / "db.sqlite").open()
    sink = sink_for(mosquitto)
    dispatcher = Dispatcher(store, {"mqtt": sink}, clock, retry_base=1.0, retry_max=10.0)
    try:
        async with subscribed(mosquitto, "listener/#") as subscriber:
            for i in range(10):
                await store.call(SyncStore.enqueue, _event(i, clock.now()), dispatcher.route)
            assert await dispatcher.dispatch_once() == 10
            first = [json.loads(m.payload)["id"] for m in await subscriber.wait_for(10)]
        await asyncio.to_thread(mosquitto.stop)
        for i in range(10, 25):
            await store.call(SyncStore.enqueue, _event(i, clock.now()), dispatcher.route)
        assert await dispatcher.dispatch_once() == 0  # broker down: kept in the outbox
        await asyncio.to_thread(mosquitto.start)
        async with subscribed(mosquitto, "listener/#") as subscriber:
            delivered = 0
            for _ in range(50):
                clock.advance(timedelta(seconds=15))
                delivered += await dispatcher.dispatch_once()
                if delivered >= 15:
                    break
            second = [json.loads(m.payload)["id"] for m in await asyncio.wait_for(subscriber.wait_for(15), 20)]
    finally:
        await sink.close()
        await store.close()
    assert first == [f"e{i:03d}" for i in range(10)]
    assert sorted(set(second)) == [f"e{i:03d}" for i in range(10, 25)]
