"""The event that flows through the outbox: what the store queues, noise control filters and every sink receives.

One typed value from the pipeline to the sinks: what it announces (`kind`), what it is about (the mention
or case fields), which noise-control rule and cooldown subject it counts under (`rule`, `subject`), the
response-time policy behind a clock event (`policy`), an escalation's route (`escalation`), and the
numbers that explain it (`explanation`). It is stored as versioned JSON (`to_json` / `from_json`); rows
written before the version existed (a flat mapping with an untyped `extra`) still read. Machine sinks
receive `to_dict()`, the wire form with `extra` (its keys are documented in docs/alerts.md).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from listener.timefmt import parse_iso

if TYPE_CHECKING:
    from listener.domain import Mention
    from models.base import Classification

PAYLOAD_VERSION = 2  # the stored JSON of an event; rows without "v" are version 1 (flat, with `extra`)


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


CLOCK_KINDS = frozenset({EventKind.WARN, EventKind.BREACH, EventKind.ESCALATE})


class EventPayloadError(ValueError):
    """A stored event payload that this version cannot read (an unknown version or a missing field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The response-time policy a clock event's deadline came from, and how the deadline was computed."""

    name: str | None = None
    calendar: str | None = None
    explain: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """An escalation step: the ladder level and the routes (channels, people) it goes to."""

    level: str = ""
    to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SpikeFacts:
    """The numbers behind a spike alert: this hour's value against its rolling baseline."""

    hour: datetime
    metric: str  # "volume" or "negative_share"
    value: float
    count: int
    mean: float
    sigma: float
    k: float
    threshold: float
    baseline_hours: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HitFacts:
    """Why a crisis or VIP rule matched a mention: the keyword, the VIP list, or the author's reach."""

    origin: str = ""  # the config table that holds the rule
    keyword: str | None = None
    vip: bool = False
    followers: int | None = None
    min_followers: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Why an event was raised, in words and in the numbers behind them (all optional)."""

    why: str = ""  # a listening rule's reason, e.g. 'crisis keyword "recall" (alerts.listening)'
    business_seconds: float | None = None  # a reply's response time in business hours
    held_back: int = 0  # alerts of the same rule and subject a cooldown held back since the last one
    spike: SpikeFacts | None = None
    hit: HitFacts | None = None


_NO_EXPLANATION = Explanation()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One outbox entry. `id` is stable, so consumers can drop duplicates after a crash.

    `thread` groups events that belong to one case (the complaint's mention key): the Slack
    sink updates the message it posted earlier for the same thread instead of posting anew.
    The mention fields (source to mention_at) are untrusted text from the platform.
    """

    id: str
    kind: EventKind
    brand: str
    thread: str
    created_at: datetime
    # What it is about: the mention (or the case's message) and where it was posted.
    source: str = ""
    mention_key: str = ""
    author: str = ""
    text: str = ""
    url: str = ""
    sentiment: str | None = None
    p_complaint: float | None = None
    language: str | None = None
    mention_at: datetime | None = None
    brands: tuple[str, ...] = ()  # a MENTION event: every brand the mention names
    scored: bool | None = None  # a MENTION event: whether the classifier scored it (else a rule did)
    # The clock.
    deadline: datetime | None = None
    response_seconds: float | None = None
    state: str = ""
    detail: str = ""
    policy: Policy | None = None  # every clock event has one
    alerted: bool = True  # a clock event: whether a warning or breach went out (a reply matters then)
    closed: bool = False  # an ACTION that closed the clock (a dismissal)
    escalation: Escalation | None = None
    # Noise control: the rule it counts under and what its cooldown is kept per ("" = by kind, see below).
    rule: str = ""
    subject: str = ""
    explanation: Explanation = _NO_EXPLANATION

    @property
    def alert_rule(self) -> str:
        """The noise-control rule: `rule`, else "sla.warn" / "sla.breach" / "sla.escalate", else the kind."""
        if self.rule:
            return self.rule
        if self.kind in CLOCK_KINDS:
            return f"sla.{self.kind.value}"
        return self.kind.value

    @property
    def alert_subject(self) -> str:
        """What a cooldown is kept per: `subject`, the source for source events, else the case (thread)."""
        if self.subject:
            return self.subject
        if self.kind is EventKind.SOURCE and self.source:
            return self.source
        return self.thread

    @property
    def occurred_at(self) -> datetime:
        """When what it announces happened: a spike's hour, a mention's post time, else when it was raised.

        A listening rule's cooldown is kept by this time, so a backfill or a late pass counts the same.
        """
        if self.explanation.spike is not None:
            return self.explanation.spike.hour
        return self.mention_at or self.created_at

    @property
    def policy_name(self) -> str | None:
        """The name of the policy behind a clock event (sinks route by it), or None."""
        return self.policy.name if self.policy is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The wire form machine sinks send (MQTT, webhook): flat fields, ISO-8601 timestamps, `extra`.

        `extra` holds the typed facts under the keys consumers have read since schema version 1.
        """
        data: dict[str, Any] = {}
        for name in _WIRE_FIELDS:
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        data["kind"] = self.kind.value
        data["extra"] = self._wire_extra()
        return data

    def _wire_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.kind is EventKind.MENTION and (self.brands or self.scored is not None):
            extra.update(brands=list(self.brands), scored=self.scored)
        if self.policy is not None:
            extra.update(explain=self.policy.explain, policy=self.policy.name, calendar=self.policy.calendar,
                         alerted=self.alerted)
            if self.kind is EventKind.REPLIED:
                extra["business_seconds"] = self.explanation.business_seconds
        if self.closed:
            extra["closed"] = True
        if self.escalation is not None:
            extra.update(level=self.escalation.level, to=list(self.escalation.to))
        if self.rule:
            extra.update(rule=self.rule, subject=self.subject)
        ex = self.explanation
        if ex.spike is not None:
            s = ex.spike
            extra.update(hour=s.hour.isoformat(), metric=s.metric, value=s.value, count=s.count, mean=s.mean,
                         sigma=s.sigma, k=s.k, threshold=s.threshold, baseline_hours=s.baseline_hours)
        if ex.why:
            extra["why"] = ex.why
        if ex.hit is not None:
            hit = ex.hit
            if hit.keyword is not None:
                extra["keyword"] = hit.keyword
            if hit.vip:
                extra["vip"] = True
            if hit.followers is not None:
                extra.update(followers=hit.followers, min_followers=hit.min_followers)
            extra["origin"] = hit.origin
        if ex.held_back:
            extra["held_back"] = ex.held_back
        return extra

    def to_json(self) -> str:
        """The stored form (version `PAYLOAD_VERSION`): typed groups as nested objects, defaults left out."""
        return json.dumps({"v": PAYLOAD_VERSION, **_encode(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, payload: str) -> Event:
        """Read a stored event of any version (a version 1 row is the flat wire form with `extra`)."""
        try:
            data = json.loads(payload)
        except ValueError as err:
            raise EventPayloadError(f"event payload is not JSON: {err}") from err
        if not isinstance(data, dict):
            raise EventPayloadError("event payload is not a JSON object")
        version = data.pop("v", 1)
        if version == 1:
            data = _from_v1(data)
        elif version != PAYLOAD_VERSION:
            raise EventPayloadError(f"event payload version {version!r} is newer than this listener reads")
        try:
            return _decode(data)
        except (KeyError, TypeError, ValueError) as err:
            raise EventPayloadError(f"event payload {data.get('id')!r}: {err}") from err


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event as the outbox hands it to one sink: its row (`event_seq`) and the attempts made so far."""

    event_seq: int
    sink: str
    attempts: int
    event: Event


_WIRE_FIELDS = ("id", "kind", "brand", "thread", "created_at", "source", "mention_key", "author", "text", "url",
                "sentiment", "p_complaint", "language", "mention_at", "deadline", "response_seconds", "state",
                "detail")


# -- the stored JSON ------------------------------------------------------------------------------


def _encode(value: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready mapping, leaving out fields that hold their default."""
    data: dict[str, Any] = {}
    for name, default in _DEFAULTS[type(value)]:
        item = getattr(value, name)
        if default is not _REQUIRED and (item is default or item == default):
            continue
        kind = type(item)
        if kind is datetime:
            item = item.isoformat()
        elif kind is tuple:
            item = list(item)
        elif kind in _DEFAULTS:
            item = _encode(item)
        data[name] = item
    return data


_REQUIRED = object()

# (field name, its default or `_REQUIRED`) of each stored class, in declaration order (this runs per event).
_DEFAULTS: dict[type, tuple[tuple[str, Any], ...]] = {
    cls: tuple((f.name, _REQUIRED if f.default is MISSING else f.default) for f in fields(cls))
    for cls in (Event, Policy, Escalation, Explanation, SpikeFacts, HitFacts)
}


def _decode(data: dict[str, Any]) -> Event:
    """The stored mapping (version 2 layout) as an Event; a missing or unknown field raises."""
    data["kind"] = EventKind(data["kind"])
    data["created_at"] = _time(data["created_at"])
    for key in ("mention_at", "deadline"):
        if key in data:
            data[key] = parse_iso(data[key])
    if "brands" in data:
        data["brands"] = tuple(str(b) for b in data["brands"])
    if (policy := data.get("policy")) is not None:
        data["policy"] = Policy(**policy)
    if (escalation := data.get("escalation")) is not None:
        data["escalation"] = Escalation(**{**escalation, "to": tuple(str(r) for r in escalation.get("to", ()))})
    if (explanation := data.get("explanation")) is not None:
        explanation = dict(explanation)
        if (spike := explanation.get("spike")) is not None:
            explanation["spike"] = SpikeFacts(**{**spike, "hour": _time(spike["hour"])})
        if (hit := explanation.get("hit")) is not None:
            explanation["hit"] = HitFacts(**hit)
        data["explanation"] = Explanation(**explanation)
    return Event(**data)


def _time(value: str) -> datetime:
    parsed = parse_iso(value)
    if parsed is None:
        raise ValueError("a required time is empty")
    return parsed


def _from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 row (flat fields and an untyped `extra`) in the version 2 layout."""
    extra = data.pop("extra", None) or {}
    if not isinstance(extra, dict):
        extra = {}
    if "brands" in extra:
        data["brands"] = [str(b) for b in extra.get("brands") or ()]
    if isinstance(extra.get("scored"), bool):
        data["scored"] = extra["scored"]
    if "explain" in extra or "policy" in extra:
        data["policy"] = {"name": _str_or_none(extra.get("policy")), "calendar": _str_or_none(extra.get("calendar")),
                          "explain": str(extra.get("explain") or "")}
        data["alerted"] = bool(extra.get("alerted", True))
    if extra.get("closed"):
        data["closed"] = True
    if "level" in extra or "to" in extra:
        data["escalation"] = {"level": str(extra.get("level") or ""), "to": [str(r) for r in extra.get("to") or ()]}
    for key in ("rule", "subject"):
        if isinstance(extra.get(key), str):
            data[key] = extra[key]
    explanation: dict[str, Any] = {}
    if isinstance(extra.get("why"), str):
        explanation["why"] = extra["why"]
    if isinstance(extra.get("business_seconds"), int | float):
        explanation["business_seconds"] = float(extra["business_seconds"])
    if isinstance(extra.get("held_back"), int):
        explanation["held_back"] = extra["held_back"]
    if "metric" in extra and "hour" in extra:
        explanation["spike"] = {key: extra[key] for key in (
            "hour", "metric", "value", "count", "mean", "sigma", "k", "threshold", "baseline_hours")}
    if "origin" in extra:
        explanation["hit"] = {key: extra[key] for key in ("origin", "keyword", "vip", "followers", "min_followers")
                              if key in extra}
    if explanation:
        data["explanation"] = explanation
    return data


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


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
    return Event(
        id=event_id, kind=kind, brand=view.brand, thread=view.case_key, created_at=now, source=view.source,
        mention_key=view.case_key, author=view.author, text=view.text, url=view.url or "", sentiment=view.sentiment,
        p_complaint=view.p_complaint, language=view.language, mention_at=view.opened_at, deadline=view.deadline,
        policy=Policy(name=view.policy, calendar=view.calendar, explain=view.explain or ""), alerted=view.alerted,
        **fields,
    )


def step_event(view: ClockView, step_kind: str, step_id: str, level: str, to: tuple[str, ...],
               now: datetime) -> Event:
    """A ladder step (warn, breach, escalation) as an event; its id is the step's, so it is sent once."""
    kind = STEP_EVENTS[step_kind]
    escalation = Escalation(level=level, to=tuple(to)) if kind is EventKind.ESCALATE else None
    return clock_event(view, kind, now, step_id, state=STEP_STATES[step_kind], escalation=escalation)


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
        brands=tuple(mention.brands), scored=result.scored,
    )
