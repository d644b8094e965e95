"""The escalation ladder as a pure function: which warn, breach and escalation steps are due now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from listener.domain import require_utc

# The ladder's data types live with the other clock data; importable from here as before.
from listener.sla.casefile import (  # noqa: F401
    ClockState,
    LadderDecision,
    ScheduledEscalation,
    Step,
    StepKind,
    step_id,
)

if TYPE_CHECKING:
    from listener.sla.calendar import BusinessCalendar


def evaluate(state: ClockState, now: datetime, calendar: BusinessCalendar | None = None) -> LadderDecision:
    """Decide which steps of `state`'s ladder are due at `now`.

    Rules, in order:
    - a replied clock has nothing left to do;
    - after an acknowledgement the warning and the escalation levels are skipped; the
      breach still fires (it is a fact for compliance, and Slack updates one message);
    - acknowledged and still unanswered `reescalate_after` later (business time on
      `calendar`, wall time without one): one re-escalation per acknowledgement;
    - a breach due at the same time as the warning supersedes it (one message, not two);
    - while snoozed nothing fires; due steps wait and fire when the snooze ends;
    - an unsure clock nobody has confirmed fires nothing and waits for no time (a person confirms
      it or not); once confirmed, the steps already due fire as above (the breach supersedes the warning).
    """
    now = require_utc(now, "now")
    if state.replied or state.unsure:
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
