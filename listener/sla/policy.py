"""SLA policies and calendars from config, the first-match-wins matcher, and explainable deadlines."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.types import Duration, StrictModel
from listener.domain import require_utc
from listener.errors import ConfigError
from listener.sla.calendar import (
    BusinessCalendar,
    CalendarError,
    ClosedPeriod,
    ClosedPeriodResponse,
    parse_hours,
)
from listener.sla.casefile import ChannelType, MentionFacts, ScheduledEscalation, TargetKind  # noqa: F401
from listener.text import keyword_pattern

_RESPONSE_KINDS = ("first_response", "next_response")
# Without warn_after / warn_before the warning fires at this share of the target (45m of 60m).
DEFAULT_WARN_SHARE = 0.75


# -- config models ----------------------------------------------------------------------


class HolidaySettings(StrictModel):
    """[sla.calendars.<name>.holidays]: public holidays from the `holidays` package."""

    country: str = Field(description='ISO 3166 code, e.g. "DE", "GB", "US".')
    subdiv: str | None = Field(default=None, description='Subdivision, e.g. "BY" or "ENG" or "CA".')


class CalendarSettings(StrictModel):
    """[sla.calendars.<name>]: when a team counts as working."""

    timezone: str = Field(default="UTC", description="IANA timezone of the shifts.")
    hours: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description='Days -> shifts, e.g. {"mon-fri" = ["09:00-12:00", "13:00-17:00"]}; empty means 24/7.',
    )
    holidays: HolidaySettings | None = None
    closed: list[date] = Field(default_factory=list, description="Extra closed local dates.")
    ical: list[Path] = Field(default_factory=list, description=".ics files whose events close the calendar.")
    closed_period_response: ClosedPeriodResponse = Field(
        default=ClosedPeriodResponse.ZERO,
        description="A message that arrives and is answered inside one closed period: "
        '"zero" (business time) or "wall" (its wall-clock time).',
    )

    # Zone and shifts are checked on their own fields so errors name `sla.calendars.<name>.timezone`.
    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f'unknown timezone {value!r}: use an IANA name like "Europe/Berlin"') from exc
        return value

    @field_validator("hours")
    @classmethod
    def _valid_shifts(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        parse_hours(value)  # CalendarError is a ValueError: pydantic reports it under `hours`
        return value

    @model_validator(mode="after")
    def _valid(self) -> CalendarSettings:
        try:
            # Build once without iCal files (no I/O here) so bad zones, shifts and holiday
            # regions are reported at config load.
            _calendar_without_files("check", self)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return self


class EscalationLevel(StrictModel):
    """[[sla.policies.escalation]]: one rung of the ladder after the breach."""

    name: str = Field(min_length=1, description='Stable id of the level, e.g. "lead", "manager".')
    after: Duration = Field(description='Business time after the anchor message, e.g. "2h".')
    to: list[str] = Field(default_factory=list, description="Routes: Slack channels or user groups.")


class Policy(StrictModel):
    """[[sla.policies]]: who gets which response targets. Policies are tried in order; first match wins.

    Match conditions left empty match anything. Priority conditions (authors,
    min_followers, keywords) combine by `priority_match`; everything else must all hold.
    """

    name: str = Field(min_length=1)
    brands: list[str] = Field(default_factory=list, description="Brand names (glob patterns allowed).")
    sources: list[str] = Field(default_factory=list, description="Connector instance names (globs allowed).")
    channels: list[ChannelType] = Field(default_factory=list)
    applies_to: Literal["complaints", "non_complaints", "all"] = "complaints"
    authors: list[str] = Field(default_factory=list, description="VIP handles; case and a leading @ ignored.")
    min_followers: int | None = Field(default=None, ge=0)
    keywords: list[str] = Field(default_factory=list, description="Crisis words, matched as whole words.")
    priority_match: Literal["any", "all"] = "any"
    min_rating: int | None = Field(default=None, description="Reviews only: lowest rating matched.")
    max_rating: int | None = Field(default=None, description="Reviews only: highest rating matched.")

    first_response: Duration = Field(default="60m", validate_default=True)
    next_response: Duration | None = Field(default=None, description="Defaults to first_response.")
    resolution: Duration | None = None
    warn_after: Duration | None = None
    warn_before: Duration | None = None
    calendar: str | None = Field(default=None, description="A [sla.calendars] name; unset means 24/7 UTC.")
    escalation: list[EscalationLevel] = Field(default_factory=list)
    reescalate_after_ack: Duration | None = Field(
        default=None, description="Acknowledged but unanswered this long (business time): escalate again."
    )
    reescalate_to: list[str] = Field(default_factory=list, description="Defaults to the first level's routes.")

    @field_validator("keywords", "authors")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("entries must not be blank")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        zero = timedelta(0)
        for label, value in (
            ("first_response", self.first_response),
            ("next_response", self.next_response),
            ("resolution", self.resolution),
        ):
            if value is not None and value <= zero:
                raise ValueError(f"{label} must be positive")
        if self.warn_after is not None and self.warn_before is not None:
            raise ValueError("set warn_after or warn_before, not both")
        if self.warn_after is not None and not zero < self.warn_after < self.first_response:
            raise ValueError("warn_after must be positive and earlier than first_response")
        if self.warn_before is not None and not zero < self.warn_before < self.first_response:
            raise ValueError("warn_before must be positive and shorter than first_response")
        if self.min_rating is not None and self.max_rating is not None and self.min_rating > self.max_rating:
            raise ValueError("min_rating is above max_rating")
        names = [level.name for level in self.escalation]
        if len(set(names)) != len(names):
            raise ValueError("escalation level names must be unique")
        afters = [level.after for level in self.escalation]
        if any(a <= zero for a in afters) or afters != sorted(set(afters)):
            raise ValueError("escalation levels need positive, strictly increasing `after` values")
        if self.reescalate_after_ack is not None and self.reescalate_after_ack <= zero:
            raise ValueError("reescalate_after_ack must be positive")
        return self

    def target(self, kind: TargetKind) -> timedelta | None:
        """The target for `kind`; next_response falls back to first_response; None when unset."""
        if kind == "first_response":
            return self.first_response
        if kind == "next_response":
            return self.next_response or self.first_response
        return self.resolution

    def matches(self, facts: MentionFacts) -> bool:
        """Whether this policy covers the mention described by `facts`."""
        if self.applies_to == "complaints" and not facts.is_complaint:
            return False
        if self.applies_to == "non_complaints" and facts.is_complaint:
            return False
        if self.brands and not _glob_any(self.brands, facts.brand):
            return False
        if self.sources and not _glob_any(self.sources, facts.source):
            return False
        if self.channels and facts.channel not in self.channels:
            return False
        if self.min_rating is not None or self.max_rating is not None:
            if facts.rating is None:
                return False
            if self.min_rating is not None and facts.rating < self.min_rating:
                return False
            if self.max_rating is not None and facts.rating > self.max_rating:
                return False
        checks = []
        if self.authors:
            checks.append(_handle(facts.author) in _handles(tuple(self.authors)))
        if self.min_followers is not None:
            checks.append(facts.followers is not None and facts.followers >= self.min_followers)
        if self.keywords:
            checks.append(keyword_pattern(tuple(self.keywords)).search(facts.text) is not None)
        if not checks:
            return True
        return any(checks) if self.priority_match == "any" else all(checks)


def default_policy(target: timedelta = timedelta(minutes=60), warn_after: timedelta = timedelta(minutes=45)) -> Policy:
    """Today's behaviour: every complaint, `target` (60m) wall-clock, warning at `warn_after` (45m), 24/7."""
    warn = warn_after if timedelta(0) < warn_after < target else None
    return Policy(name="default", first_response=target, warn_after=warn)


def check_references(policies: Sequence[Policy], calendars: Mapping[str, CalendarSettings]) -> list[str]:
    """Problems (as `sla.policies[i].field: message` lines) with policy names and calendar references."""
    problems = []
    seen: set[str] = set()
    for index, policy in enumerate(policies):
        if policy.name in seen:
            problems.append(f"sla.policies[{index}].name: duplicate policy name {policy.name!r}")
        seen.add(policy.name)
        if policy.calendar is not None and policy.calendar not in calendars:
            known = ", ".join(sorted(calendars)) or "none defined"
            problems.append(f"sla.policies[{index}].calendar: unknown calendar {policy.calendar!r} (known: {known})")
    return problems


# -- matching ---------------------------------------------------------------------------


def match_policy(policies: Sequence[Policy], facts: MentionFacts) -> Policy | None:
    """The first policy in order that covers `facts`; None means the mention gets no clock."""
    for policy in policies:
        if policy.matches(facts):
            return policy
    return None


def _glob_any(patterns: Sequence[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _handle(author: str) -> str:
    return author.strip().lstrip("@").casefold()


@functools.lru_cache(maxsize=256)
def _handles(authors: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_handle(a) for a in authors)


# -- calendars from config --------------------------------------------------------------


def _calendar_without_files(name: str, settings: CalendarSettings, **extra: Any) -> BusinessCalendar:
    return BusinessCalendar(
        name=name,
        timezone=settings.timezone,
        shifts=parse_hours(settings.hours),
        holiday_country=settings.holidays.country if settings.holidays else None,
        holiday_subdiv=settings.holidays.subdiv if settings.holidays else None,
        closed_period_response=settings.closed_period_response,
        **extra,
    )


def build_calendar(name: str, settings: CalendarSettings, base_dir: Path | None = None) -> BusinessCalendar:
    """A `BusinessCalendar` from its config table; reads the iCal files (relative to `base_dir`)."""
    from listener.sla.ical import load_ical  # icalendar is only needed when files are configured

    probe = _calendar_without_files(name, settings)
    closed: dict[date, str] = {d: "closed" for d in settings.closed}
    periods: list[ClosedPeriod] = []
    for path in settings.ical:
        full = path if path.is_absolute() or base_dir is None else base_dir / path
        closures = load_ical(full, probe.tz)
        for day, label in closures.dates.items():
            closed.setdefault(day, label)
        periods.extend(closures.periods)
    return _calendar_without_files(name, settings, closed_dates=closed, closed_periods=periods)


def build_calendars(
    calendars: Mapping[str, CalendarSettings], base_dir: Path | None = None
) -> dict[str, BusinessCalendar]:
    """Every configured calendar by name; raises ConfigError listing each one that cannot be built."""
    built: dict[str, BusinessCalendar] = {}
    problems = []
    for name, settings in calendars.items():
        try:
            built[name] = build_calendar(name, settings, base_dir)
        except CalendarError as exc:
            problems.append(f"sla.calendars.{name}: {exc}")
    if problems:
        raise ConfigError(problems)
    return built


ALWAYS_OPEN = BusinessCalendar(name="24/7")


def calendar_for(policy: Policy, calendars: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    """The calendar a policy names (24/7 UTC when it names none)."""
    if policy.calendar is None:
        return ALWAYS_OPEN
    try:
        return calendars[policy.calendar]
    except KeyError:
        raise ConfigError([f"policy {policy.name!r}: unknown calendar {policy.calendar!r}"]) from None


# -- deadlines --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """A computed clock: when it warns and breaches, and why (policy, calendar, anchor message)."""

    due: datetime
    warn_at: datetime | None
    kind: TargetKind
    target: timedelta
    policy: str
    calendar: str
    calendar_description: str
    business_time: bool
    anchor_key: str
    anchor_at: datetime
    author: str = ""
    closures: tuple[tuple[date, str], ...] = ()
    escalations: tuple[ScheduledEscalation, ...] = ()
    reescalate_after: timedelta | None = None
    reescalate_to: tuple[str, ...] = ()
    local_due: datetime | None = field(default=None, repr=False)
    local_anchor: datetime | None = field(default=None, repr=False)

    def explain(self) -> str:
        """One line an alert can show, e.g. "60m business time under policy 'vip' on calendar
        'support-eu' (Mon-Fri 09:00-17:00 Europe/Berlin) from @ann's message at Fri 16:30 -> Mon 09:30"."""
        clock = "business time" if self.business_time else "wall-clock time"
        kind = "" if self.kind == "first_response" else f" ({self.kind.replace('_', ' ')})"
        who = f"{_display_author(self.author)}'s message" if self.author else "the message"
        anchor = self.local_anchor or self.anchor_at
        due = self.local_due or self.due
        pattern = "%a %H:%M" if due - anchor < timedelta(days=6) else "%a %d %b %H:%M"
        text = (
            f"{_short(self.target)} {clock}{kind} under policy {self.policy!r} on calendar {self.calendar!r} "
            f"({self.calendar_description}) from {who} at {anchor.strftime(pattern)} -> {due.strftime(pattern)}"
        )
        if self.closures:
            skipped = ", ".join(f"{d:%a %d %b} ({name})" for d, name in self.closures[:5])
            more = f" and {len(self.closures) - 5} more" if len(self.closures) > 5 else ""
            text += f"; closed {skipped}{more}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for an event's `extra` or the store."""
        return {
            "due": self.due.isoformat(),
            "warn_at": self.warn_at.isoformat() if self.warn_at else None,
            "kind": self.kind,
            "target_seconds": self.target.total_seconds(),
            "policy": self.policy,
            "calendar": self.calendar,
            "business_time": self.business_time,
            "anchor_key": self.anchor_key,
            "anchor_at": self.anchor_at.isoformat(),
            "escalations": [{"level": e.level, "at": e.at.isoformat(), "to": list(e.to)} for e in self.escalations],
            "explain": self.explain(),
        }


def compute_deadline(
    policy: Policy,
    calendar: BusinessCalendar | None,
    anchor_at: datetime,
    *,
    kind: TargetKind = "first_response",
    anchor_key: str = "",
    author: str = "",
) -> Deadline:
    """Deadline, warning and escalation instants for a clock anchored at `anchor_at`.

    All offsets are business time on `calendar` (None: 24/7 UTC). The anchor is the
    customer's message: the complaint for first_response, the follow-up for next_response.
    """
    anchor_at = require_utc(anchor_at, "anchor_at")
    calendar = calendar or ALWAYS_OPEN
    target = policy.target(kind)
    if target is None:
        raise ValueError(f"policy {policy.name!r} sets no {kind} target")
    due = calendar.add(anchor_at, target)
    warn_offset = _warn_offset(policy, kind, target)
    warn_at = calendar.add(anchor_at, warn_offset) if warn_offset is not None else None
    escalations: tuple[ScheduledEscalation, ...] = ()
    if kind in _RESPONSE_KINDS:
        escalations = tuple(
            ScheduledEscalation(level=level.name, at=calendar.add(anchor_at, level.after), to=tuple(level.to))
            for level in policy.escalation
        )
    reescalate_to = tuple(policy.reescalate_to) or (escalations[0].to if escalations else ())
    return Deadline(
        due=due,
        warn_at=warn_at,
        kind=kind,
        target=target,
        policy=policy.name,
        calendar=calendar.name,
        calendar_description=calendar.describe(),
        business_time=not calendar.is_24_7,
        anchor_key=anchor_key,
        anchor_at=anchor_at,
        author=author,
        closures=tuple(calendar.closures_between(anchor_at, due)) if not calendar.is_24_7 else (),
        escalations=escalations,
        reescalate_after=policy.reescalate_after_ack if kind in _RESPONSE_KINDS else None,
        reescalate_to=reescalate_to,
        local_due=calendar.local(due),
        local_anchor=calendar.local(anchor_at),
    )


def _warn_offset(policy: Policy, kind: TargetKind, target: timedelta) -> timedelta | None:
    """Business time from the anchor to the warning, or None for no warning."""
    if policy.warn_before is not None:
        offset = target - policy.warn_before
        return offset if offset > timedelta(0) else None
    if policy.warn_after is not None:
        if kind == "first_response":
            return policy.warn_after
        # Other targets warn at the same share of their length as the first response does.
        share = policy.warn_after / policy.first_response
        return timedelta(seconds=round(target.total_seconds() * share))
    return timedelta(seconds=round(target.total_seconds() * DEFAULT_WARN_SHARE))


def _short(value: timedelta) -> str:
    """ "60m", "90m", "2h", "1d": minutes up to two hours, as practitioners write targets."""
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds >= 7200:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _display_author(author: str) -> str:
    author = author.strip()
    return author if author.startswith("@") or " " in author else f"@{author}"
