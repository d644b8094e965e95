"""The sink contract and the event that flows through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol


class EventKind(StrEnum):
    """What an outbox event announces."""

    MENTION = "mention"  # a classified mention (MQTT only)
    WARN = "warn"  # a complaint's clock passed the warning threshold
    BREACH = "breach"  # a complaint's clock passed its deadline
    REPLIED = "replied"  # the brand replied (or someone marked it replied) after an alert
    ESCALATE = "escalate"  # an escalation level of the ladder (a thread reply in Slack)
    ACTION = "action"  # someone acknowledged, assigned, snoozed or dismissed the complaint
    SOURCE = "source"  # source health (credentials rejected, down, gap)
    SPIKE = "spike"  # listening: mention volume or negative share above its rolling baseline
    CRISIS = "crisis"  # listening: a mention with a crisis keyword
    VIP = "vip"  # listening: a mention by a VIP or high-reach author


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One outbox entry. `id` is stable, so consumers can drop duplicates after a crash.

    `thread` groups events that belong to one case (the complaint's mention key): the Slack
    sink updates the message it posted earlier for the same thread instead of posting anew.
    """

    id: str
    kind: EventKind
    brand: str
    thread: str
    created_at: datetime
    source: str = ""
    mention_key: str = ""
    author: str = ""
    text: str = ""
    url: str = ""
    sentiment: str | None = None
    p_complaint: float | None = None
    language: str | None = None
    mention_at: datetime | None = None
    deadline: datetime | None = None
    response_seconds: float | None = None
    state: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (ISO-8601 timestamps)."""
        # Field by field rather than `asdict`: that deep-copies every value, and this runs for every
        # delivery of every event (a measurable share of the daemon's CPU under load).
        data: dict[str, Any] = {}
        for name in _EVENT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = dict(value)  # the caller may change its copy; nested values are JSON data
            data[name] = value
        data["kind"] = self.kind.value
        return data


_EVENT_FIELDS = tuple(f.name for f in fields(Event))


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
