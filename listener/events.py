"""The event that flows through the outbox: what the store queues and every sink receives."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from listener.domain import Mention
    from models.base import Classification


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


# -- factories: the events the pipeline raises, from the facts the store read ---------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockView:
    """What a clock event shows: the case, its round's message (quoted and linked) and its deadline."""

    case_key: str
    brand: str
    source: str
    opened_at: datetime | None
    deadline: datetime | None
    explain: str
    policy: str | None
    calendar: str | None
    alerted: bool  # a warning or breach went out already (a reply then matters to humans)
    author: str
    text: str
    url: str
    sentiment: str | None
    p_complaint: float | None
    language: str | None


# Ladder step kinds ("warn", "breach", "escalate", "reescalate") as events, and the state they announce.
STEP_EVENTS = {"warn": EventKind.WARN, "breach": EventKind.BREACH, "escalate": EventKind.ESCALATE,
               "reescalate": EventKind.ESCALATE}
STEP_STATES = {"warn": "warn", "breach": "breach", "escalate": "escalated", "reescalate": "escalated again"}


def clock_event(view: ClockView, kind: EventKind, now: datetime, event_id: str, **fields: Any) -> Event:
    """An event about a clock, quoting the message its round answers and how its deadline was computed."""
    extra = {"explain": view.explain or "", "policy": view.policy, "calendar": view.calendar,
             "alerted": view.alerted, **fields.pop("extra", {})}
    return Event(
        id=event_id, kind=kind, brand=view.brand, thread=view.case_key, created_at=now, source=view.source,
        mention_key=view.case_key, author=view.author, text=view.text, url=view.url or "", sentiment=view.sentiment,
        p_complaint=view.p_complaint, language=view.language, mention_at=view.opened_at, deadline=view.deadline,
        extra=extra, **fields,
    )


def step_event(view: ClockView, step_kind: str, step_id: str, level: str, to: tuple[str, ...],
               now: datetime) -> Event:
    """A ladder step (warn, breach, escalation) as an event; its id is the step's, so it is sent once."""
    kind = STEP_EVENTS[step_kind]
    extra = {"level": level, "to": list(to)} if kind is EventKind.ESCALATE else {}
    return clock_event(view, kind, now, step_id, state=STEP_STATES[step_kind], extra=extra)


def answer_event_id(case_key: str, round_: int | None, what: str) -> str:
    """Stable id of a round's closing event; later rounds (a follow-up, an edit) get new ids."""
    return f"{case_key}:{what}" if not round_ else f"{case_key}:r{round_}:{what}"


def mention_event(mention: Mention, result: Classification, brand: str, now: datetime) -> Event:
    """A classified mention (for MQTT and other machine sinks)."""
    return Event(
        id=f"{mention.key}:mention", kind=EventKind.MENTION, brand=brand, thread=mention.key, created_at=now,
        source=mention.source, mention_key=mention.key, author=mention.author, text=mention.text, url=mention.url,
        sentiment=result.sentiment.value if result.sentiment else None, p_complaint=result.p_complaint,
        language=result.language, mention_at=mention.created_at,
        state="complaint" if result.complaint else "mention",
        extra={"brands": list(mention.brands), "scored": result.scored},
    )
