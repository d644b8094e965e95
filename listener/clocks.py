"""The clock engine: which policy and calendar a mention gets, its deadlines, and response times."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from listener.sla.calendar import BusinessCalendar
from listener.sla.casefile import load_escalations, seconds  # noqa: F401 (stored JSON -> data)
from listener.sla.cases import (
    CaseHistory,
    CaseMessage,
    CaseRules,
    Decision,
    Link,
    StoredCase,
    decide,
    joins,
    ladder_step,
)
from listener.sla.ladder import ClockState, LadderDecision
from listener.sla.policy import (
    ALWAYS_OPEN,
    Deadline,
    MentionFacts,
    Policy,
    TargetKind,
    build_calendars,
    calendar_for,
    compute_deadline,
    default_policy,
    match_policy,
)


@dataclass(frozen=True, slots=True)
class StoredDeadline:
    """A computed deadline as the complaints table keeps it (so sweeps never recompute it)."""

    policy: str
    calendar: str
    kind: TargetKind
    warn_at: datetime | None
    due: datetime
    explain: str
    escalations: str  # JSON: [{"level", "at", "to"}]
    reescalate_after: float | None
    reescalate_to: str  # JSON list


class ClockEngine:
    """Policies (first match wins) and business calendars, built once from the settings."""

    def __init__(self, policies: Sequence[Policy], calendars: Mapping[str, BusinessCalendar],
                 rules: CaseRules | None = None) -> None:
        self.policies = list(policies)
        self.calendars = dict(calendars)
        self.rules = rules or CaseRules()
        self._by_name = {p.name: p for p in self.policies}

    @classmethod
    def from_settings(cls, sla: Any, base_dir: Path | None = None) -> ClockEngine:
        """Build from `[sla]`: its policies (or the default policy alone), calendars and case rules."""
        policies = list(sla.policies) or [default_policy(sla.target, sla.warn_after)]
        rules = CaseRules(follow_up_window=sla.follow_up_window, max_age=sla.max_age)
        return cls(policies, build_calendars(sla.calendars, base_dir), rules)

    def decide(self, history: CaseHistory, stored: StoredCase | None, now: datetime) -> Decision:
        """The case rules applied to a case's history (`listener.sla.cases.decide`)."""
        return decide(history, stored, self, self.rules, now)

    def joins(self, message: CaseMessage, link: Link, case_brand: str, case_at: datetime) -> bool:
        """Whether `message` joins a case it is linked to (`listener.sla.cases.joins`)."""
        return joins(message, link, case_brand, case_at, self.rules)

    def ladder_step(self, state: ClockState, now: datetime, calendar: str | None) -> LadderDecision:
        """One sweep of a running clock on its calendar (`listener.sla.cases.ladder_step`)."""
        return ladder_step(state, now, self.calendar(calendar))

    def calendar(self, name: str | None) -> BusinessCalendar:
        """A calendar by name (24/7 UTC for unknown or empty names)."""
        return self.calendars.get(name or "", ALWAYS_OPEN)

    def policy(self, name: str) -> Policy | None:
        """A policy by name."""
        return self._by_name.get(name)

    def deadline(
        self, facts: MentionFacts, anchor_at: datetime, *, kind: TargetKind = "first_response",
        anchor_key: str = "", policy_name: str | None = None,
    ) -> StoredDeadline | None:
        """The clock for a mention, or None when no policy covers it."""
        policy = self.policy(policy_name) if policy_name else match_policy(self.policies, facts)
        if policy is None or policy.target(kind) is None:
            return None
        computed = compute_deadline(policy, calendar_for(policy, self.calendars), anchor_at, kind=kind,
                                    anchor_key=anchor_key, author=facts.author)
        return _stored(computed)

    def response_seconds(self, calendar: str | None, start: datetime, end: datetime) -> tuple[float, float]:
        """(business, wall-clock) seconds between the customer's message and the answer."""
        measured = self.calendar(calendar).response_time(start, end)
        return measured.business.total_seconds(), measured.wall.total_seconds()


def _stored(deadline: Deadline) -> StoredDeadline:
    return StoredDeadline(
        policy=deadline.policy,
        calendar=deadline.calendar,
        kind=deadline.kind,
        warn_at=deadline.warn_at,
        due=deadline.due,
        explain=deadline.explain(),
        escalations=json.dumps(
            [{"level": e.level, "at": e.at.isoformat(), "to": list(e.to)} for e in deadline.escalations]
        ),
        reescalate_after=deadline.reescalate_after.total_seconds() if deadline.reescalate_after else None,
        reescalate_to=json.dumps(list(deadline.reescalate_to)),
    )


