"""The sink contract and the event that flows through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

# The event is a core type the store queues; sinks take it from here as before.
from listener.events import Event, EventKind

__all__ = ["Event", "EventKind", "Sink", "SinkHooks"]


class Sink(Protocol):
    """Where events go. `send` raises `SinkError` to have the event retried later.

    Besides these, the dispatcher uses optional hooks when a sink has them (see `SinkHooks`):
    `max_in_flight`, `noise_controls`, `channel_for(event)` and `send_digest(...)`.
    """

    name: ClassVar[str]

    def accepts(self, event: Event) -> bool:
        """Whether this sink wants this kind of event at all."""
        ...

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Deliver `event`; `previous_ref` is what this sink returned for the same thread
        last time (e.g. a Slack message ts). Returns a reference to store, or None."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class SinkHooks(Protocol):
    """The optional parts of a sink; the dispatcher falls back to the defaults named here when one is missing."""

    @property
    def max_in_flight(self) -> int | None:
        """Most sends at once (None: the dispatcher's `[alerts] max_in_flight`); 1 keeps arrival order."""
        ...

    @property
    def noise_controls(self) -> bool:
        """Whether mutes, cooldowns, quiet hours and the rate limit apply (default True; MQTT is never
        controlled). A machine consumer (a generic webhook) wants every event instead."""
        ...

    def channel_for(self, event: Event) -> str:
        """Where `event` lands, as noise controls count it (default: the sink's name)."""
        ...

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """One message for alerts held back from `channel` (default: the events are sent one by one)."""
        ...
