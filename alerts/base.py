"""The sink contract (every capability the dispatcher uses, declared and defaulted here) and the event it takes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from listener.clock import Clock, SystemClock

# The event is a core type the store queues; sinks take it from here as before.
from listener.events import Event, EventKind

if TYPE_CHECKING:
    from typing import Self

    import aiohttp

    from alerts.registry import SinkContext

__all__ = ["Event", "EventKind", "HttpSink", "Sink"]


class Sink(ABC):
    """Where events go. `send` raises `SinkError` to have the event retried later.

    A sink subclasses this and implements `accepts` and `send`; the rest are capabilities with a
    default that a sink overrides when it has something to say. The dispatcher reads them directly
    (no probing for optional methods):

    * `max_in_flight`: most sends at once (None: the dispatcher's `[alerts] max_in_flight`); 1 keeps
      arrival order (a webhook posting into one channel).
    * `noise_controls`: whether mutes, cooldowns, quiet hours and the rate limit apply (True: people
      read this sink). Machine consumers (MQTT, a generic webhook, PagerDuty by default) set it False
      and get every event.
    * `channel_for(event)`: where `event` lands, as noise controls count it (default: the sink's name).
    * `send_digest(...)`: one message for alerts held back from a channel (default: each event on its own).
    * `close()`: release what the sink opened (default: nothing; the HTTP session is the daemon's).
    """

    name: ClassVar[str]
    max_in_flight: int | None = None
    noise_controls: bool = True

    @abstractmethod
    def accepts(self, event: Event) -> bool:
        """Whether this sink wants this kind of event at all."""

    @abstractmethod
    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Deliver `event`; `previous_ref` is what this sink returned for the same thread
        last time (e.g. a Slack message ts). Returns a reference to store, or None."""

    def channel_for(self, event: Event) -> str:
        """Where `event` lands, as noise controls count it (default: the sink's name)."""
        return self.name

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """One message for alerts held back from `channel` (default: the events are sent one by one)."""
        for event in events:
            await self.send(event, None)
        return None

    async def close(self) -> None:  # noqa: B027 - a default, not an abstract method: most sinks hold nothing
        """Release connections (default: nothing to release)."""


class HttpSettings(Protocol):
    """What every HTTP sink's settings table has: a limit for one request."""

    @property
    def timeout(self) -> timedelta:
        """Limit for one request, body included."""
        ...


SettingsT = TypeVar("SettingsT", bound=HttpSettings)


class HttpSink(Sink, Generic[SettingsT]):
    """A sink that talks HTTP on the daemon's shared session, built from its own settings table.

    It keeps `_settings` (typed: `HttpSink[TeamsSettings]`), `_session`, `_clock` and `_timeout`
    (seconds); a sink derives the rest (routes, credentials) in `setup`, never repeating the constructor.
    """

    def __init__(self, settings: SettingsT, session: aiohttp.ClientSession, *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._session = session
        self._clock: Clock = clock or SystemClock()
        self._timeout = settings.timeout.total_seconds()
        self.setup()

    @classmethod
    def from_settings(cls, settings: SettingsT, context: SinkContext) -> Self:
        """Build from the sink's `[alerts.<name>]` table (the registry's entry point)."""
        return cls(settings, context.session, clock=context.clock)

    def setup(self) -> None:
        """Derive what this sink needs from `self._settings` (the default: nothing)."""
