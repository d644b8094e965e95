"""Clock rows: writing what the case engine decided, the sweep of due ladder steps, and clock events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from listener.events import ClockView, Event, EventKind, Explanation, answer_event_id, clock_event, step_event
from listener.sla.casefile import (
    CaseHistory,
    ClockState,
    Decision,
    StepKind,
    StoredCase,
    answered_text,
    breach_step_id,
    clock_key,
    load_escalations,
    seconds,
)
from listener.store.db import SinkRouter, iso, parse_iso
from listener.store.mentions import MentionStore


class ClockStore(MentionStore):
    """Write decided clocks, sweep the due ones, and build the events they raise."""

    # Defined by the case part of the store (listener/store/cases.py).
    def _history(self, case: str) -> CaseHistory:
        raise NotImplementedError

    def _has_clock(self, case: str) -> bool:
        raise NotImplementedError

    def _settle(self, case: str, now: datetime, router: SinkRouter | None) -> tuple[Decision, bool]:
        """Replay the case's history through the engine and write what it decides; (decision, opened)."""
        row = self.db.execute(
            "SELECT round, state, breached_at, acked_at FROM complaints WHERE mention_key = ?", [case]
        ).fetchone()
        stored = StoredCase(round=row[0] or 0, state=row[1], breached_at=parse_iso(row[2])) if row else None
        history = self._history(case)
        decision = self.engine.decide(history, stored, now)
        clock = decision.clock
        if clock is None:
            return decision, False
        if clock.case_key != case and not self._has_clock(clock.case_key):
            # An earlier message of the case arrived late: the case is named after its first message.
            self.db.execute("UPDATE case_members SET case_key = ? WHERE case_key = ?", [clock.case_key, case])
            self.db.execute("UPDATE complaints SET mention_key = ? WHERE mention_key = ?", [clock.case_key, case])
        case = clock.case_key
        brand = next((m.facts.brand for m in history.messages if m.key == case), "")
        d = clock.deadline
        closed = clock.state != "open"
        business = wall = None
        if clock.response_seconds is not None and clock.closed_at is not None:
            business, wall = self.engine.response_seconds(d.calendar, clock.opened_at,
                                                          max(clock.closed_at, clock.opened_at))
        fields: dict[str, Any] = {
            "brand": brand, "opened_at": iso(clock.opened_at), "warn_at": iso(d.warn_at or d.due),
            "deadline": iso(d.due), "state": clock.state, "round": clock.round, "kind": d.kind, "policy": d.policy,
            "calendar": d.calendar, "explain": d.explain, "escalations": d.escalations,
            "reescalate_after": d.reescalate_after, "reescalate_to": d.reescalate_to,
            "is_complaint": int(clock.is_complaint), "anchor_key": clock.anchor_key,
            "closed_at": iso(clock.closed_at) if clock.closed_at else None, "closed_by": clock.closed_by,
            "close_reason": clock.state if closed else None, "reply_key": clock.reply_key,
            "response_seconds": wall, "business_seconds": business,
            "acked_at": iso(clock.acked_at) if clock.acked_at else None, "acked_by": clock.acked_by,
            "snoozed_until": iso(clock.snoozed_until) if clock.snoozed_until else None,
            "assigned_to": clock.assigned_to,
        }
        new_round = stored is None or stored.round != clock.round
        if new_round:
            fields.update(fired="[]", warned_at=None, breached_at=None,
                          next_step_at=None if closed else iso(d.warn_at or d.due))
        elif closed:
            fields["next_step_at"] = None
        elif clock.acked_at is not None and row is not None and row[3] is None:
            fields["next_step_at"] = iso(now)  # re-evaluate the ladder now: escalations are skipped
        if closed:
            # Closed, the record says what happened: breached when answered late, whatever the sweep
            # believed before it knew of the answer; a dismissed case was never a complaint to breach.
            kept = stored.breached_at if stored and not new_round and stored.breached_at else None
            fields["breached_at"] = (iso(kept or d.due)) if clock.late else None
        if stored is None:
            self.db.execute(
                "INSERT INTO complaints (mention_key, source, {}) VALUES (?, ?, {})".format(
                    ", ".join(fields), ", ".join("?" for _ in fields)),
                [case, next((m.facts.source for m in history.messages if m.key == case), ""), *fields.values()],
            )
        else:
            self.db.execute(
                "UPDATE complaints SET {} WHERE mention_key = ?".format(", ".join(f"{k} = ?" for k in fields)),
                [*fields.values(), case],
            )
        self.db.execute("INSERT OR IGNORE INTO case_members VALUES (?, ?)", [case, case])
        if router is not None and brand not in self.competitors:
            self._raise_case_events(case, decision, stored, now, router)
        return decision, stored is None

    def _raise_case_events(self, case: str, decision: Decision, stored: StoredCase | None, now: datetime,
                           router: SinkRouter) -> None:
        """Queue what a decision announces: a late answer's breach, the answer, a dismissal."""
        clock = decision.clock
        assert clock is not None
        if decision.breach_now and clock.response_seconds is not None:
            self._enqueue(clock_event(
                self._clock_view(case), EventKind.BREACH, now, breach_step_id(case, clock.round), state=answered_text(
                    clock.response_seconds, clock.opened_at, clock.deadline.due),
                response_seconds=clock.response_seconds), router)
        newly_closed = clock.state != "open" and (stored is None or stored.state == "open"
                                                  or stored.round != clock.round)
        if not newly_closed:
            return
        if clock.state == "not_complaint":
            action = clock.applied[-1] if clock.applied else None
            self._enqueue(clock_event(
                self._clock_view(case), EventKind.ACTION, now,
                f"{clock_key(case, clock.round)}:not_complaint:{action.request_key if action else 'label'}",
                state=f"not a complaint (per {clock.closed_by})", detail=clock.closed_by or "",
                closed=True), router)
            return
        business = self.db.execute("SELECT business_seconds FROM complaints WHERE mention_key = ?",
                                   [case]).fetchone()
        self._enqueue(clock_event(
            self._clock_view(case), EventKind.REPLIED, now, answer_event_id(case, clock.round, clock.state),
            response_seconds=clock.response_seconds, state=clock.state, detail=clock.closed_by or "",
            explanation=Explanation(business_seconds=business[0] if business else None)), router)

    def _clock_view(self, key: str) -> ClockView:
        """What an event about the clock shows: the case and the message its current round answers."""
        r = self.db.execute(
            """SELECT c.brand, c.source, c.opened_at, c.deadline, c.explain, c.policy, c.calendar, c.warned_at,
                      c.breached_at, m.author, m.text, m.url, cl.sentiment, cl.p_complaint, cl.language
               FROM complaints c JOIN mentions m ON m.key = COALESCE(c.anchor_key, c.mention_key)
               LEFT JOIN classifications cl ON cl.mention_key = m.key WHERE c.mention_key = ?""",
            [key],
        ).fetchone()
        return ClockView(
            case_key=key, brand=r[0], source=r[1], opened_at=parse_iso(r[2]), deadline=parse_iso(r[3]),
            explain=r[4] or "", policy=r[5], calendar=r[6], alerted=bool(r[7] or r[8]), author=r[9], text=r[10],
            url=r[11] or "", sentiment=r[12], p_complaint=r[13], language=r[14],
        )

    def sweep(self, now: datetime, router: SinkRouter) -> list[Event]:
        """Walk every open clock with a step due: fire its ladder steps (warn, breach, escalations)."""
        events: list[Event] = []
        with self.db.atomic():
            rows = self.db.execute(
                """SELECT mention_key, brand, round, opened_at, warn_at, deadline, escalations, acked_at,
                          snoozed_until, fired, reescalate_after, reescalate_to, calendar
                   FROM complaints WHERE state = 'open' AND next_step_at IS NOT NULL AND next_step_at <= ?""",
                [iso(now)],
            ).fetchall()
            for r in rows:
                key = r[0]
                deadline = parse_iso(r[5])
                warn_at = parse_iso(r[4])
                state = ClockState(
                    key=clock_key(key, r[2]),
                    opened_at=parse_iso(r[3]),  # type: ignore[arg-type]
                    deadline=deadline,  # type: ignore[arg-type]
                    warn_at=warn_at if warn_at and deadline and warn_at < deadline else None,
                    escalations=load_escalations(r[6]),
                    acked_at=parse_iso(r[7]),
                    snoozed_until=parse_iso(r[8]),
                    fired=frozenset(json.loads(r[9] or "[]")),
                    reescalate_after=seconds(r[10]),
                    reescalate_to=tuple(json.loads(r[11] or "[]")),
                )
                decision = self.engine.ladder_step(state, now, r[12])
                fired = sorted(state.fired | {s.id for s in decision.fire} | {s.id for s in decision.skip})
                kinds = {s.kind for s in decision.fire}
                self.db.execute(
                    """UPDATE complaints SET fired = ?, next_step_at = ?,
                              warned_at = CASE WHEN ? THEN COALESCE(warned_at, ?) ELSE warned_at END,
                              breached_at = CASE WHEN ? THEN COALESCE(breached_at, ?) ELSE breached_at END
                       WHERE mention_key = ?""",
                    [json.dumps(fired), iso(decision.next_at) if decision.next_at else None,
                     int(StepKind.WARN in kinds or StepKind.BREACH in kinds), iso(now),
                     int(StepKind.BREACH in kinds), iso(now), key],
                )
                if r[1] in self.competitors:
                    continue  # tracked for comparison, never alerted
                for step in decision.fire:
                    event = step_event(self._clock_view(key), step.kind.value, step.id, step.level, step.to, now)
                    if self._enqueue(event, router):
                        events.append(event)
        return events

    def next_due(self) -> datetime | None:
        """The earliest instant at which an open clock has a ladder step to consider."""
        row = self.db.execute(
            "SELECT MIN(next_step_at) FROM complaints WHERE state = 'open' AND next_step_at IS NOT NULL"
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None
