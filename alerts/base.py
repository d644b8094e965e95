"""The sink contract and the event that flows through the outbox."""

from __future__ import annotations

from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

# The event is a core type the store queues; sinks take it from here as before.
from listener.events import Event, EventKind

__all__ = ["Event", "EventKind", "Sink", "SinkConfig"]


class SinkConfig(BaseModel):
    """Settings every sink table accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    enabled: bool = True


class Sink(Protocol):
    """Where events go. `send` raises `SinkError` to have the event retried later."""

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
