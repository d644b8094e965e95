"""The optional sink hooks the dispatcher honours: `noise_controls` (off: every event, like MQTT)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from alerts.base import Event, EventKind, Sink
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.store import Store, SyncStore

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


class Recorder(Sink):
    """A sink that records what it was sent; `noise_controls` as given."""

    name: ClassVar[str] = "recorder"

    def __init__(self, noise_controls: bool | None) -> None:
        if noise_controls is not None:
            self.noise_controls = noise_controls
        self.sent: list[str] = []

    def accepts(self, event: Event) -> bool:
        return True

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        self.sent.append(event.id)
        return None


async def _deliver(sink: Any, tmp_path: Any, table: str = "recorder") -> list[str]:
    store = await Store(tmp_path / "db.sqlite").open()
    try:
        dispatcher = Dispatcher(store, {table: sink}, FakeClock(NOW), mute_brands=["acme"])
        await store.call(SyncStore.enqueue, Event(id="m1:breach", kind=EventKind.BREACH, brand="acme", thread="m1",
                                  created_at=NOW, source="social"), dispatcher.route)
        await dispatcher.dispatch_once()
        return list(sink.sent)
    finally:
        await store.close()


async def test_a_sink_without_noise_controls_gets_muted_brands_too(tmp_path: Any) -> None:
    assert await _deliver(Recorder(noise_controls=False), tmp_path) == ["m1:breach"]


@pytest.mark.parametrize("noise_controls", [True, None], ids=["on", "hook-absent"])
async def test_people_sinks_still_honour_mutes(noise_controls: bool | None, tmp_path: Any) -> None:
    assert await _deliver(Recorder(noise_controls=noise_controls), tmp_path) == []


def test_every_registered_sink_declares_the_contract() -> None:
    """The dispatcher reads capabilities directly: every built-in sink is a `Sink` and says what it is."""
    from alerts.registry import BUILTIN, sink_class

    for name in BUILTIN:
        cls = sink_class(name)
        assert issubclass(cls, Sink), name
        assert cls.name == name
    assert sink_class("mqtt").noise_controls is False  # a machine consumer, declared by the sink itself


async def test_a_sink_named_mqtt_is_not_special(tmp_path: Any) -> None:
    """Noise controls follow the sink's declaration, not its table name."""

    class Named(Recorder):
        name: ClassVar[str] = "mqtt"

    assert await _deliver(Named(noise_controls=None), tmp_path, "mqtt") == []  # muted: a people sink, whatever its name
