"""The vocabulary of cases and clocks, data only: messages, replies, actions, a case's clock, ladder steps.

The store reads and writes these; the rules that decide with them live in `listener.sla.cases`
(cases), `listener.sla.ladder` (the escalation ladder) and `listener.sla.policy` (deadlines).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from listener.domain import require_utc

ChannelType = Literal["public_mention", "review", "direct_message"]


TargetKind = Literal["first_response", "next_response", "resolution"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MentionFacts:
    """What the matcher needs to know about a mention (the store fills it in)."""

    brand: str
    source: str
    channel: ChannelType = "public_mention"
    author: str = ""
    followers: int | None = None
    text: str = ""
    is_complaint: bool = True
    rating: int | None = None


class StepKind(StrEnum):
    """What a ladder step announces."""

    WARN = "warn"
    BREACH = "breach"
    ESCALATE = "escalate"
    REESCALATE = "reescalate"


@dataclass(frozen=True, slots=True)
class ScheduledEscalation:
    """One escalation level placed in time: `level` fires at `at` to the routes in `to`."""

    level: str
    at: datetime
    to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """A ladder step. `id` is stable for a clock, so an outbox keyed on it never sends twice."""

    id: str
    kind: StepKind
    at: datetime
    level: str = ""
    to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockState:
    """What the ladder needs to know about one clock.

    `key` names the clock; use the anchor message's key so that a follow-up (next
    response) gets fresh step ids. `fired` holds the ids of steps already fired or skipped.
    """

    key: str
    opened_at: datetime
    deadline: datetime
    warn_at: datetime | None = None
    escalations: tuple[ScheduledEscalation, ...] = ()
    acked_at: datetime | None = None
    replied: bool = False
    snoozed_until: datetime | None = None
    fired: frozenset[str] = frozenset()
    reescalate_after: timedelta | None = None
    reescalate_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("opened_at", "deadline", "warn_at", "acked_at", "snoozed_until"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_utc(value, name))


@dataclass(frozen=True, slots=True)
class LadderDecision:
    """The result of one evaluation.

    `fire`: send these now. `skip`: these are moot (superseded by a breach, or suppressed by
    an acknowledgement); record their ids as fired so they are never reconsidered.
    `next_at`: the earliest instant something may become due (None: nothing left).
    `held_by_snooze`: due now but held until the snooze ends (`next_at`).
    """

    fire: tuple[Step, ...] = ()
    skip: tuple[Step, ...] = ()
    next_at: datetime | None = None
    held_by_snooze: tuple[Step, ...] = ()


def step_id(key: str, kind: StepKind, suffix: str = "") -> str:
    """Stable id: "<key>:warn", "<key>:breach", "<key>:escalate:<level>", "<key>:reescalate:<ack time>"."""
    return f"{key}:{kind.value}:{suffix}" if suffix else f"{key}:{kind.value}"


MessageKind = Literal["complaint", "question", "other"]


Link = Literal["thread", "author"]


ClosedState = Literal["replied", "marked_replied", "acknowledged", "not_complaint"]


ANSWERED: frozenset[str] = frozenset({"replied", "marked_replied", "acknowledged"})


# Actions a person can take on a case; "acknowledged" is `listener ack` (answered elsewhere),
# "ack" is Slack's Acknowledge button (someone is on it: the clock keeps running).
ACTIONS = ("ack", "assign", "snooze", "not_complaint", "replied", "acknowledged")


DEFAULT_FOLLOW_UP_WINDOW = timedelta(hours=24)


DEFAULT_MAX_AGE = timedelta(hours=72)


class Outcome(StrEnum):
    """What a new fact did to its case."""

    OPEN = "open"  # a new case and clock
    JOIN = "join"  # a follow-up joined the case; the clock is unchanged
    RESTART = "restart"  # the customer wrote again after the answer: a new round of the clock
    REPLIED = "replied"  # closed: answered in time
    REPLIED_LATE = "replied_late"  # closed: answered after the deadline (a breach)
    NOT_COMPLAINT = "not_complaint"  # closed: a person said it is not a complaint
    IGNORE = "ignore"  # nothing changes


@dataclass(frozen=True, slots=True)
class CaseRules:
    """The configurable parts of the case rules (`[sla]` follow_up_window and max_age)."""

    follow_up_window: timedelta = DEFAULT_FOLLOW_UP_WINDOW
    max_age: timedelta | None = DEFAULT_MAX_AGE


class _Deadline(Protocol):
    # Read-only members, so that a frozen dataclass (listener.clocks.StoredDeadline) satisfies it.
    @property
    def policy(self) -> str: ...
    @property
    def calendar(self) -> str: ...
    @property
    def kind(self) -> TargetKind: ...
    @property
    def warn_at(self) -> datetime | None: ...
    @property
    def due(self) -> datetime: ...
    @property
    def explain(self) -> str: ...
    @property
    def escalations(self) -> str: ...
    @property
    def reescalate_after(self) -> float | None: ...
    @property
    def reescalate_to(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseMessage:
    """A customer's message in a case: when, by whom, what kind, and the facts policies match on."""

    key: str
    at: datetime
    author: str
    facts: MentionFacts
    kind: MessageKind
    seen_at: datetime | None = None  # when we first stored it (an old import is not a new case)
    edited_at: datetime | None = None  # an edit after the answer restarts the clock (reviews)


@dataclass(frozen=True, slots=True)
class CaseReply:
    """A brand reply (auto-replies left out) to a message of the case."""

    key: str
    author: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseAction:
    """A person's action on the case: a Slack button, `listener ack`, or a "not a complaint" label."""

    action: str
    by: str
    at: datetime
    request_key: str = ""
    until: datetime | None = None  # snoozes
    assignee: str | None = None  # assign: whom it names (default: who pressed it)


@dataclass(frozen=True, slots=True)
class CaseHistory:
    """Everything known about one case: its messages, the replies to them and the actions on it."""

    messages: tuple[CaseMessage, ...]
    replies: tuple[CaseReply, ...] = ()
    actions: tuple[CaseAction, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseClock:
    """A case's clock after replaying its history: the current round and how it ended (if it did)."""

    case_key: str  # the case is named after its first message
    anchor_key: str  # the message the current round answers (the follow-up, after a restart)
    round: int
    opened_at: datetime
    deadline: _Deadline
    is_complaint: bool
    state: Literal["open", "replied", "marked_replied", "acknowledged", "not_complaint"] = "open"
    closed_at: datetime | None = None
    closed_by: str | None = None
    reply_key: str | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    snoozed_until: datetime | None = None
    assigned_to: str | None = None
    # The actions that took effect in this round, in time order (the live run's ACTION alerts).
    applied: tuple[CaseAction, ...] = ()
    earlier: tuple[CaseClock, ...] = ()  # the rounds before this one, oldest first

    @property
    def rounds(self) -> tuple[CaseClock, ...]:
        """Every round of the case, oldest first (this one last)."""
        return (*self.earlier, self)

    @property
    def late(self) -> bool:
        """Answered after the deadline (a breach, however late we learned of the answer)."""
        return self.state in ANSWERED and self.closed_at is not None and self.closed_at > self.deadline.due

    @property
    def response_seconds(self) -> float | None:
        """Wall-clock seconds from the round's message to the answer."""
        if self.state not in ANSWERED or self.closed_at is None:
            return None
        return (max(self.closed_at, self.opened_at) - self.opened_at).total_seconds()

    def explain(self) -> str:
        """How the deadline was computed, and how the clock ended."""
        text = self.deadline.explain
        if self.state in ANSWERED and self.response_seconds is not None:
            text += f"; {answered_text(self.response_seconds, self.opened_at, self.deadline.due)}"
        elif self.state == "not_complaint":
            text += f"; not a complaint (per {self.closed_by})"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCase:
    """What the store holds of a case's clock (the part `decide` compares with)."""

    round: int
    state: str
    breached_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a case: the outcome, the clock to store (None: no clock) and why."""

    outcome: Outcome
    clock: CaseClock | None
    breach_now: bool = False  # a late answer learned after the fact: record and announce the breach
    explain: str = ""


def message_kind(*, scored: bool, complaint: bool, sentiment: str | None, text: str) -> MessageKind:
    """A complaint, a question (asks something, not praise), or anything else (praise, neutral, unscored)."""
    if not scored:
        return "other"
    if complaint:
        return "complaint"
    if "?" in text and sentiment != "positive":
        return "question"
    return "other"


def resolve_case(
    key: str | None,
    *,
    alias: Callable[[str], str | None],
    case_of_member: Callable[[str], str | None],
    up: Callable[[str], str | None],
) -> str | None:
    """The case a message (or brand reply) belongs to: through duplicates (`alias`), membership,
    and up the reply chain (`up`: the message a stored message or a brand reply answers)."""
    seen: set[str] = set()
    while key and key not in seen:
        seen.add(key)
        key = alias(key) or key
        case = case_of_member(key)
        if case is not None:
            return case
        key = up(key)
    return None


def clock_key(case_key: str, round_: int | None) -> str:
    """The ladder's key for a clock round: step ids are "<key>:warn", "<key>:r1:breach", ..."""
    return f"{case_key}:r{round_}" if round_ else case_key


def breach_step_id(case_key: str, round_: int | None) -> str:
    """The id of a round's breach alert (the sweep's, or the late answer's: never both)."""
    return step_id(clock_key(case_key, round_), StepKind.BREACH)


def answered_text(response_seconds: float, opened_at: datetime, due: datetime) -> str:
    """"answered after 55s, 15s late" or "answered after 40s, within target"."""
    late = response_seconds - (due - opened_at).total_seconds()
    spoken = f"answered after {duration_text(response_seconds)}"
    return spoken + (f", {duration_text(late)} late" if late > 0 else ", within target")


def duration_text(seconds: float) -> str:
    """45s, 12m, 3h 05m, 2d 4h."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m" + (f" {s % 60:02d}s" if s % 60 and s < 600 else "")
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def load_escalations(text: str | None) -> tuple[ScheduledEscalation, ...]:
    """Inverse of the JSON kept in the complaints table."""
    if not text:
        return ()
    return tuple(
        ScheduledEscalation(level=e["level"], at=datetime.fromisoformat(e["at"]), to=tuple(e["to"]))
        for e in json.loads(text)
    )


def seconds(value: float | None) -> timedelta | None:
    """Seconds from the database as a timedelta."""
    return None if value is None else timedelta(seconds=value)
