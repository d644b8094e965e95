"""The escalation ladder as a pure function: which warn, breach and escalation steps are due now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from listener.domain import require_utc

if TYPE_CHECKING:
    from listener.sla.calendar import BusinessCalendar
    from listener.sla.policy import Deadline


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

    @classmethod
    def from_deadline(cls, deadline: Deadline, *, key: str | None = None, **state: Any) -> ClockState:
        """A clock state from a computed `Deadline` plus the live fields (acked_at, fired, ...)."""
        return cls(
            key=key if key is not None else deadline.anchor_key,
            opened_at=deadline.anchor_at,
            deadline=deadline.due,
            warn_at=deadline.warn_at,
            escalations=deadline.escalations,
            reescalate_after=deadline.reescalate_after,
            reescalate_to=deadline.reescalate_to,
            **state,
        )


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


def evaluate(state: ClockState, now: datetime, calendar: BusinessCalendar | None = None) -> LadderDecision:
    """Decide which steps of `state`'s ladder are due at `now`.

    Rules, in order:
    - a replied clock has nothing left to do;
    - after an acknowledgement the warning and the escalation levels are skipped; the
      breach still fires (it is a fact for compliance, and Slack updates one message);
    - acknowledged and still unanswered `reescalate_after` later (business time on
      `calendar`, wall time without one): one re-escalation per acknowledgement;
    - a breach due at the same time as the warning supersedes it (one message, not two);
    - while snoozed nothing fires; due steps wait and fire when the snooze ends.
    """
    now = require_utc(now, "now")
    if state.replied:
        return LadderDecision()
    acked = state.acked_at is not None and state.acked_at <= now
    pending = [step for step in _schedule(state, calendar, acked) if step.id not in state.fired]
    suppressed = (StepKind.WARN, StepKind.ESCALATE) if acked else ()
    due = [step for step in pending if step.at <= now]
    future = [step.at for step in pending if step.at > now and step.kind not in suppressed]

    skip: list[Step] = []
    fire: list[Step] = []
    breach_due = any(step.kind is StepKind.BREACH for step in due)
    for step in due:
        if step.kind in suppressed or (step.kind is StepKind.WARN and breach_due):
            skip.append(step)
        else:
            fire.append(step)

    next_at = min(future) if future else None
    if state.snoozed_until is not None and state.snoozed_until > now:
        # Held, not dropped: the same steps come back due once the snooze ends.
        if fire:
            return LadderDecision(skip=tuple(skip), next_at=state.snoozed_until, held_by_snooze=tuple(fire))
        if next_at is not None:
            next_at = max(next_at, state.snoozed_until)
    return LadderDecision(fire=tuple(fire), skip=tuple(skip), next_at=next_at)


def _schedule(state: ClockState, calendar: BusinessCalendar | None, acked: bool) -> list[Step]:
    steps: list[Step] = []
    if state.warn_at is not None and state.warn_at < state.deadline:
        steps.append(Step(step_id(state.key, StepKind.WARN), StepKind.WARN, state.warn_at))
    steps.append(Step(step_id(state.key, StepKind.BREACH), StepKind.BREACH, state.deadline))
    for level in state.escalations:
        steps.append(
            Step(step_id(state.key, StepKind.ESCALATE, level.level), StepKind.ESCALATE, level.at, level.level, level.to)
        )
    if acked and state.reescalate_after is not None and state.acked_at is not None:
        # Counted from the acknowledgement; a new acknowledgement gives a new id, so one
        # re-escalation per acknowledgement.
        start = state.acked_at
        at = calendar.add(start, state.reescalate_after) if calendar is not None else start + state.reescalate_after
        stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        steps.append(
            Step(
                step_id(state.key, StepKind.REESCALATE, stamp),
                StepKind.REESCALATE,
                at,
                "reescalate",
                state.reescalate_to,
            )
        )
    return steps
