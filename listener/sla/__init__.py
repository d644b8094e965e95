"""Pure core of the response-time engine: business calendars, policies, the escalation ladder.

Noise controls and spike detection are not SLA: they live in `listener.noise`.
"""

from listener.sla.calendar import (
    BusinessCalendar,
    CalendarError,
    ClosedPeriod,
    ClosedPeriodResponse,
    ResponseTime,
    Shift,
    parse_hours,
)
from listener.sla.ladder import ClockState, LadderDecision, ScheduledEscalation, Step, StepKind, evaluate
from listener.sla.policy import (
    CalendarSettings,
    Deadline,
    EscalationLevel,
    HolidaySettings,
    MentionFacts,
    Policy,
    build_calendar,
    build_calendars,
    calendar_for,
    check_references,
    compute_deadline,
    default_policy,
    match_policy,
)

__all__ = [
    "BusinessCalendar",
    "CalendarError",
    "CalendarSettings",
    "ClockState",
    "ClosedPeriod",
    "ClosedPeriodResponse",
    "Deadline",
    "EscalationLevel",
    "HolidaySettings",
    "LadderDecision",
    "MentionFacts",
    "Policy",
    "ResponseTime",
    "ScheduledEscalation",
    "Shift",
    "Step",
    "StepKind",
    "build_calendar",
    "build_calendars",
    "calendar_for",
    "check_references",
    "compute_deadline",
    "default_policy",
    "evaluate",
    "match_policy",
    "parse_hours",
]
