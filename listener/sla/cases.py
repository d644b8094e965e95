"""Case rules as pure functions: which case a message joins, and what a case's history makes of its clock.

A case is one customer's matter with a brand: the message that opened it, the follow-ups that
joined it, the brand's replies to any of them, and what people did about it (buttons, `listener
ack`, "not a complaint" corrections). Its clock is never updated step by step: `replay` rebuilds
it from the whole history in time order, so the result does not depend on the order in which the
daemon learned the facts (a backlog, a restart, an import, two sources). The store loads a case's
history, `decide` compares the replayed clock with the stored one and says what to write and
which alerts to raise; `listener backtest` calls the very same functions.

No SQL and no I/O here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from listener.sla.calendar import BusinessCalendar

# The data the rules decide on (re-exported: callers may import it from here).
from listener.sla.casefile import (  # noqa: F401
    ACTIONS,
    ANSWERED,
    DEFAULT_FOLLOW_UP_WINDOW,
    DEFAULT_MAX_AGE,
    CaseAction,
    CaseClock,
    CaseHistory,
    CaseMessage,
    CaseReply,
    CaseRules,
    ClockState,
    ClosedState,
    Decision,
    LadderDecision,
    Link,
    MentionFacts,
    MessageKind,
    Outcome,
    ScheduledEscalation,
    StepKind,
    StoredCase,
    TargetKind,
    _Deadline,
    answered_text,
    breach_step_id,
    clock_key,
    duration_text,
    message_kind,
    resolve_case,
)
from listener.sla.ladder import evaluate


class Deadlines(Protocol):
    """What the case rules need of the clock engine: deadlines and calendars (listener.clocks.ClockEngine)."""

    def deadline(
        self, facts: MentionFacts, anchor_at: datetime, *, kind: TargetKind = "first_response",
        anchor_key: str = "", policy_name: str | None = None,
    ) -> _Deadline | None:
        """The clock for a message anchored at `anchor_at`, or None when no policy covers it."""
        ...

    def calendar(self, name: str | None) -> BusinessCalendar:
        """A calendar by name."""
        ...


# -- joining a case -----------------------------------------------------------------------------


def joins(message: CaseMessage, link: Link, case_brand: str, case_at: datetime, rules: CaseRules) -> bool:
    """Whether `message` joins a case it is linked to.

    A message in the same thread or conversation always joins (a brand reply to it answers the
    case). A message linked only by its author joins when it is itself a complaint or a question
    about the same brand, within `follow_up_window` of the case's latest round; anything else is
    judged on its own.
    """
    if link == "thread":
        return True
    return (message.kind in ("complaint", "question") and message.facts.brand == case_brand
            and abs(message.at - case_at) <= rules.follow_up_window)


# -- replaying a case ---------------------------------------------------------------------------


def replay(history: CaseHistory, engine: Deadlines, rules: CaseRules, now: datetime) -> CaseClock | None:
    """The case's clock from its whole history, in time order; None when no policy gives it a clock.

    - The first message a policy covers opens the clock (none when it was first seen more than
      `max_age` after it was posted: an import of old posts).
    - A brand reply at or after the round's message closes the round: in time, or late.
    - A complaint or question by the customer after the answer starts a new round (next response
      target), as does an edit of the first message after the answer; praise and neutral follow-ups
      never restart it.
    - "Not a complaint" closes the case (a later complaint or question by the customer opens a new
      round, first-response target, under the policy that covers it); "Mark replied" and `listener ack` close the round;
      Slack's Acknowledge, Snooze and Assign change how the running round alerts.
    - A round whose message the model was unsure of is timed but marked unsure: the ladder holds its
      alerts until a person confirms it (`listener label --complaint yes`, the "confirm" action) or the
      customer writes a confident complaint in the same round; the deadline stays counted from the message.
      With `rules.alert_unsure` an unsure round is an ordinary one.
    """
    if rules.alert_unsure:  # the team alerts unsure complaints: every judgement counts as a sure one
        history = dataclasses.replace(
            history, messages=tuple(dataclasses.replace(m, unsure=False) for m in history.messages))
    messages = sorted(history.messages, key=lambda m: (m.at, m.key))
    root, first = None, None
    for message in messages:
        deadline = engine.deadline(message.facts, message.at, anchor_key=message.key)
        if deadline is not None:
            root, first = message, deadline
            break
    if root is None or first is None:
        return None
    seen = root.seen_at or now
    if rules.max_age is not None and seen - root.at > rules.max_age:
        return None
    clock = CaseClock(case_key=root.key, anchor_key=root.key, round=0, opened_at=root.at, deadline=first,
                      is_complaint=root.facts.is_complaint, unsure=root.unsure,
                      confirmed_at=root.confirmed_at if root.unsure else None)
    for at, _, item in _timeline(history, root):
        clock = _apply(clock, at, item, root, engine)
    return clock


def _timeline(history: CaseHistory, root: CaseMessage) -> list[tuple[datetime, int, object]]:
    # Ties: a message before a reply before an action (a reply at the same instant as a follow-up
    # answers the round the follow-up is in; an action is taken on what was known).
    items: list[tuple[datetime, int, object]] = []
    for message in history.messages:
        if message.key != root.key and message.at > root.at:
            items.append((message.at, 0, message))
        elif message.key == root.key and message.edited_at is not None and message.edited_at > root.at:
            items.append((message.edited_at, 0, ("edit", message)))
    items += [(reply.at, 1, reply) for reply in history.replies]
    items += [(action.at, 2, action) for action in history.actions]
    return sorted(items, key=lambda item: (item[0], item[1], _tie(item[2])))


def _tie(item: object) -> str:
    if isinstance(item, CaseMessage | CaseReply):
        return item.key
    if isinstance(item, CaseAction):
        return f"{item.request_key}:{item.action}"
    return ""


def _apply(clock: CaseClock, at: datetime, item: object, root: CaseMessage, engine: Deadlines) -> CaseClock:
    if isinstance(item, CaseReply):
        if clock.state == "open" and at >= clock.opened_at:
            return _close(clock, "replied", at, f"reply by {item.author}", item.key)
        return clock
    if isinstance(item, CaseMessage):
        if item.kind not in ("complaint", "question"):
            return clock
        if _answered_before(clock, at):
            return _restart(clock, item, at, "next_response", item.facts, engine)
        if clock.state == "not_complaint" and clock.closed_at is not None and clock.closed_at < at:
            # Dismissed, then the customer really complains: a new round under that message's policy.
            return _restart(clock, item, at, "first_response", item.facts, engine, keep_policy=False)
        return _confirmed_by(clock, at, item)
    if isinstance(item, tuple):  # ("edit", root): the customer changed their review after the answer
        if _answered_before(clock, at):
            return _restart(clock, root, at, "first_response", root.facts, engine)
        return clock
    assert isinstance(item, CaseAction)
    return _act(clock, item)


def _answered_before(clock: CaseClock, at: datetime) -> bool:
    return clock.state in ANSWERED and clock.closed_at is not None and clock.closed_at < at


def _close(clock: CaseClock, state: ClosedState, at: datetime, by: str, reply_key: str | None) -> CaseClock:
    return dataclasses.replace(clock, state=state, closed_at=at, closed_by=by, reply_key=reply_key)


def _confirmed_by(clock: CaseClock, at: datetime, message: CaseMessage) -> CaseClock:
    """An unsure round is confirmed by a confident complaint of the customer joining it (or a confirmed one)."""
    if not clock.unsure or clock.state != "open" or message.kind != "complaint":
        return clock
    if not message.unsure:
        when: datetime | None = at
    else:
        when = max(at, message.confirmed_at) if message.confirmed_at is not None else None
    if when is None or (clock.confirmed_at is not None and clock.confirmed_at <= when):
        return clock
    return dataclasses.replace(clock, confirmed_at=when)


def _restart(clock: CaseClock, anchor: CaseMessage, at: datetime, kind: TargetKind, facts: MentionFacts,
             engine: Deadlines, *, keep_policy: bool = True) -> CaseClock:
    round_ = clock.round + 1
    if keep_policy:  # the case's policy answers the follow-up
        facts = dataclasses.replace(facts, is_complaint=clock.is_complaint)
    deadline = engine.deadline(facts, at, kind=kind, anchor_key=f"{clock.case_key}:r{round_}",
                               policy_name=clock.deadline.policy if keep_policy else None)
    if deadline is None:
        return clock
    return CaseClock(case_key=clock.case_key, anchor_key=anchor.key, round=round_, opened_at=at, deadline=deadline,
                     is_complaint=facts.is_complaint, assigned_to=clock.assigned_to,
                     earlier=(*clock.earlier, dataclasses.replace(clock, earlier=())), unsure=anchor.unsure,
                     confirmed_at=anchor.confirmed_at if anchor.unsure else None)


def _act(clock: CaseClock, action: CaseAction) -> CaseClock:
    if action.action == "confirm":  # "it is a complaint": an unsure round alerts from now on (if answered
        # late already, that is a breach now); it confirms the round running at that time, open or closed
        if not clock.unsure:
            return clock
        confirmed = action.at if clock.confirmed_at is None else min(clock.confirmed_at, action.at)
        return dataclasses.replace(clock, confirmed_at=confirmed, applied=(*clock.applied, action))
    if clock.state != "open":
        return clock  # nothing to act on: the round was closed before this action
    applied = (*clock.applied, action)
    match action.action:
        case "not_complaint":
            return dataclasses.replace(_close(clock, "not_complaint", action.at, action.by, None), applied=applied)
        case "replied":
            return dataclasses.replace(_close(clock, "marked_replied", action.at, action.by, None), applied=applied)
        case "acknowledged":
            return dataclasses.replace(_close(clock, "acknowledged", action.at, action.by, None), applied=applied)
        case "ack":
            return dataclasses.replace(clock, acked_at=clock.acked_at or action.at,
                                       acked_by=clock.acked_by or action.by, applied=applied)
        case "assign":
            return dataclasses.replace(clock, assigned_to=action.assignee or action.by, applied=applied)
        case "snooze":
            return dataclasses.replace(clock, snoozed_until=action.until, applied=applied)
    raise ValueError(f"unknown action {action.action!r}")


def decide(history: CaseHistory, stored: StoredCase | None, engine: Deadlines, rules: CaseRules,
           now: datetime) -> Decision:
    """What the history makes of the stored clock: open, restart, close (in time, late, not a
    complaint), join or ignore, with the clock to store and the deadline explanation."""
    clock = replay(history, engine, rules, now)
    if clock is None:
        return Decision(Outcome.IGNORE, None)
    explain = clock.explain()
    # An unsure round is never alerted as a breach; once confirmed, a breach already past fires once.
    breach_now = clock.late and not clock.unconfirmed and (
        stored is None or stored.breached_at is None or stored.round != clock.round)
    if stored is None:
        outcome = _closing(clock) if clock.state != "open" else Outcome.OPEN
        return Decision(outcome, clock, breach_now, explain)
    if clock.round > stored.round and clock.state == "open":
        return Decision(Outcome.RESTART, clock, False, explain)
    if clock.state != "open" and (stored.state == "open" or clock.round != stored.round):
        return Decision(_closing(clock), clock, breach_now, explain)
    if clock.round != stored.round or clock.state != stored.state:
        return Decision(Outcome.RESTART if clock.round > stored.round else Outcome.JOIN, clock, breach_now, explain)
    if stored.unsure and not clock.unconfirmed:
        return Decision(Outcome.CONFIRMED, clock, breach_now, explain)
    return Decision(Outcome.JOIN, clock, False, explain)


def _closing(clock: CaseClock) -> Outcome:
    if clock.state == "not_complaint":
        return Outcome.NOT_COMPLAINT
    return Outcome.REPLIED_LATE if clock.late else Outcome.REPLIED


def case_outcome(clock: CaseClock, now: datetime) -> str:
    """The case in one word at `now`: "not_complaint", "unsure" (the model was unsure and nobody confirmed
    it: never a breach), "met" (answered in time), "late" (answered after the deadline), "breached" (still
    unanswered past it) or "open" (unanswered, still in time)."""
    if clock.state == "not_complaint":
        return "not_complaint"
    if clock.unconfirmed:
        return "unsure"
    if clock.state in ANSWERED:
        return "late" if clock.late else "met"
    return "breached" if clock.deadline.due <= now else "open"


# -- the escalation ladder ---------------------------------------------------------------------


def ladder_state(clock: CaseClock, escalations: tuple[ScheduledEscalation, ...],
                 reescalate_after: timedelta | None, reescalate_to: tuple[str, ...],
                 fired: frozenset[str] = frozenset()) -> ClockState:
    """The ladder's view of a running round."""
    d = clock.deadline
    return ClockState(
        key=clock_key(clock.case_key, clock.round), opened_at=clock.opened_at, deadline=d.due,
        warn_at=d.warn_at if d.warn_at and d.warn_at < d.due else None, escalations=escalations,
        acked_at=clock.acked_at, snoozed_until=clock.snoozed_until, fired=fired,
        reescalate_after=reescalate_after, reescalate_to=reescalate_to, unsure=clock.unconfirmed,
    )


def ladder_step(state: ClockState, now: datetime, calendar: BusinessCalendar) -> LadderDecision:
    """One sweep of a running clock: the ladder steps due at `now` (see `listener.sla.ladder.evaluate`)."""
    return evaluate(state, now, calendar)


def replay_ladder(
    state: ClockState, calendar: BusinessCalendar, until: datetime,
    changes: Sequence[tuple[datetime, datetime | None, datetime | None]] = (),
    held_until: datetime | None = None,
) -> list[tuple[datetime, str, StepKind]]:
    """The ladder steps a round fires before `until` (its close, or the end of the period), stepped
    as the live sweep steps it; `changes` are (when, acked_at, snoozed_until) from the round's
    actions, which the sweep sees as they happen; `held_until` is when an unsure round was confirmed
    (the sweep looks at it again then). Returns (time, step id, kind) in firing order."""
    fired: list[tuple[datetime, str, StepKind]] = []
    pending = sorted(changes, key=lambda c: c[0])
    first: datetime = state.warn_at or state.deadline
    at: datetime | None = first if held_until is None else max(first, held_until)
    while at is not None and at < until:
        while pending and pending[0][0] <= at:
            when, acked, snoozed = pending.pop(0)
            state = dataclasses.replace(state, acked_at=acked, snoozed_until=snoozed)
        decision = evaluate(state, at, calendar)
        fired += [(at, step.id, step.kind) for step in decision.fire]
        state = dataclasses.replace(
            state, fired=state.fired | {s.id for s in decision.fire} | {s.id for s in decision.skip})
        candidates = [t for t in (decision.next_at, pending[0][0] if pending else None) if t is not None and t > at]
        at = min(candidates) if candidates else None
    return fired


def ladder_changes(clock: CaseClock) -> list[tuple[datetime, datetime | None, datetime | None]]:
    """The (when, acked_at, snoozed_until) changes the round's actions made, for `replay_ladder`."""
    acked: datetime | None = None
    snoozed: datetime | None = None
    changes = []
    for action in clock.applied:
        if action.action == "ack":
            acked = acked or action.at
        elif action.action == "snooze":
            snoozed = action.until
        else:
            continue
        changes.append((action.at, acked, snoozed))
    return changes


# -- words --------------------------------------------------------------------------------------


