"""Alert-noise controls for people: mute, snooze, cooldown, quiet hours, and the rate limit with its digests.

They work on the typed outbox event (`listener.events.Event`) as one sink's delivery through one
channel (`Alert`); what the store keeps between passes (held alerts, what was sent, mutes) uses
the same records.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field, field_validator

from config.types import Duration, StrictModel
from listener.domain import require_utc
from listener.events import Delivery, Event, EventKind
from listener.noise.rules import cooldown_for
from listener.sla.calendar import BusinessCalendar, CalendarError, Shift, parse_days, parse_span

QUIET = "quiet_hours"
RATE = "rate_limit"


# -- config -----------------------------------------------------------------------------


class QuietHours(StrictModel):
    """[[alerts.noise.quiet_hours]]: alerts raised in this window are held and sent as one digest at its end."""

    hours: str = Field(description='Local window, e.g. "22:00-07:00" (may cross midnight).')
    days: str = Field(default="daily", description='Days the window starts on, e.g. "mon-fri" or "sat,sun".')
    timezone: str = "UTC"
    channels: list[str] = Field(default_factory=list, description="Channels it applies to; empty means all.")
    exempt_rules: list[str] = Field(default_factory=list, description='Rules (globs) never held, e.g. "sla.breach".')

    @field_validator("hours")
    @classmethod
    def _span(cls, value: str) -> str:
        try:
            parse_span(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        try:
            parse_days(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            BusinessCalendar(timezone=value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return value

    def calendar(self) -> BusinessCalendar:
        """The quiet window as a calendar whose open time is the quiet time."""
        return _quiet_calendar(self.hours, self.days, self.timezone)


class NoiseSettings(StrictModel):
    """[alerts.noise]: how many alerts reach people, and when."""

    cooldowns: dict[str, Duration] = Field(
        default_factory=dict,
        description="Rule (glob) -> least time between two alerts of that rule for one subject, "
        'e.g. {"spike.*" = "1h"}.',
    )
    max_per_channel: int | None = Field(
        default=None,
        ge=1,
        description="At most this many messages per channel per rate_window; the rest become a digest.",
    )
    rate_window: Duration = Field(default="10m", validate_default=True)
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    mute_brands: list[str] = Field(default_factory=list)
    mute_sources: list[str] = Field(default_factory=list)

    def cooldown(self, rule: str) -> timedelta:
        """The cooldown of `rule`: an exact key wins, then the first matching glob, else none."""
        return cooldown_for(rule, self.cooldowns)


@functools.lru_cache(maxsize=64)
def _quiet_calendar(hours: str, days: str, timezone: str) -> BusinessCalendar:
    start, length = parse_span(hours)
    shifts = [Shift(day, start, length) for day in parse_days(days)]
    return BusinessCalendar(name=f"quiet {days} {hours}", timezone=timezone, shifts=shifts)


# -- values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    """An outbox delivery on its way to people through one channel (a Slack channel, a mailbox, a service).

    The noise controls read the typed event: its rule ("sla.breach", "spike.volume", "crisis") and
    cooldown subject (`Event.alert_rule`, `Event.alert_subject`), brand, source and time. `urgent`
    alerts skip quiet hours and the rate limit (never mutes or snoozes).
    """

    delivery: Delivery
    channel: str = ""
    urgent: bool = False

    def __post_init__(self) -> None:
        require_utc(self.delivery.event.created_at, "alert time")

    @property
    def event(self) -> Event:
        """The event this alert announces."""
        return self.delivery.event

    @property
    def id(self) -> str:
        """The event's id (one delivery per event and sink, so unique in a sink's pass)."""
        return self.delivery.event.id

    @property
    def rule(self) -> str:
        """The noise-control rule the event counts under."""
        return self.delivery.event.alert_rule

    @property
    def subject(self) -> str:
        """What the rule's cooldown is kept per."""
        return self.delivery.event.alert_subject

    @property
    def at(self) -> datetime:
        """When the event was raised."""
        return self.delivery.event.created_at

    @property
    def brand(self) -> str:
        """The event's brand."""
        return self.delivery.event.brand

    @property
    def source(self) -> str:
        """The event's source."""
        return self.delivery.event.source


@dataclass(frozen=True, slots=True)
class SentAlert:
    """One message that went out (an alert or a digest), as the store remembers it."""

    rule: str
    channel: str
    at: datetime
    subject: str = ""


@dataclass(frozen=True, slots=True)
class HeldAlert:
    """An alert kept back until `until`, because of `reason` (quiet_hours or rate_limit)."""

    alert: Alert
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Snooze:
    """Silence a rule (glob), optionally for one subject or brand, until `until`."""

    until: datetime
    rule: str = "*"
    subject: str = ""
    brand: str = ""

    def covers(self, alert: Alert, now: datetime) -> bool:
        """Whether this snooze silences `alert` at `now`."""
        return (
            now < self.until
            and fnmatch.fnmatchcase(alert.rule, self.rule)
            and (not self.subject or self.subject == alert.subject)
            and (not self.brand or self.brand == alert.brand)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Mute:
    """Silence a brand or a source for people until `until` (None: until unmuted in the config)."""

    brand: str = ""
    source: str = ""
    until: datetime | None = None

    def covers(self, alert: Alert, now: datetime) -> bool:
        """Whether this mute silences `alert` at `now`."""
        return self.covers_event(alert.event, now)

    def covers_event(self, event: Event, now: datetime) -> bool:
        """Whether this mute silences `event` at `now` (a MENTION event is for machines: never muted)."""
        if event.kind is EventKind.MENTION or (self.until is not None and now >= self.until):
            return False
        if not self.brand and not self.source:
            return False
        return (not self.brand or self.brand == event.brand) and (not self.source or self.source == event.source)

    def reason(self) -> str:
        """Why a delivery was suppressed, e.g. "muted source reddit until 2026-01-05 11:00:00+00:00"."""
        what = f"source {self.source}" if self.source else f"brand {self.brand}"
        return f"muted {what} until {self.until if self.until is not None else 'unmuted in the config'}"


@dataclass(frozen=True, slots=True)
class NoiseState:
    """What the store knows besides the history: alerts held earlier, live snoozes and mutes."""

    held: tuple[HeldAlert, ...] = ()
    snoozes: tuple[Snooze, ...] = ()
    mutes: tuple[Mute, ...] = ()


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts for one channel rolled into one message; `id` is stable for the same alerts.

    Each member keeps its reason: the one it was held for, or rate_limit.
    """

    id: str
    channel: str
    reasons: tuple[str, ...]
    members: tuple[tuple[Alert, str], ...]

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The alerts in the digest, oldest first."""
        return tuple(alert for alert, _ in self.members)


@dataclass(frozen=True, slots=True)
class Dropped:
    """An alert that will not be sent, and why (muted, snoozed, cooldown)."""

    alert: Alert
    reason: str


@dataclass(frozen=True, slots=True)
class NoiseDecision:
    """send: deliver now, one message each. hold: persist and pass back in `NoiseState.held`.
    digests: deliver now, one message per digest. dropped: record for stats. next_at: the
    earliest hold expiry (call again then)."""

    send: tuple[Alert, ...] = ()
    hold: tuple[HeldAlert, ...] = ()
    digests: tuple[Digest, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    next_at: datetime | None = None


# -- the filter -------------------------------------------------------------------------


def apply_noise_controls(
    candidates: Sequence[Alert],
    history: Iterable[SentAlert],
    state: NoiseState,
    now: datetime,
    settings: NoiseSettings,
) -> NoiseDecision:
    """Decide for each candidate (and each held alert) whether it goes out now, waits, joins a digest or is dropped.

    Order: mute, snooze, cooldown, quiet hours, rate limit. Alerts released from a hold
    never go out one by one: per channel they form one digest (which takes one slot of
    the rate limit). Each channel gets at most `max_per_channel` messages per `rate_window`
    counting what `history` says was sent; urgent alerts are always sent but still count.
    """
    now = require_utc(now, "now")
    history = list(history)
    dropped: list[Dropped] = []
    hold: list[HeldAlert] = [h for h in state.held if h.until > now]
    released = [h for h in state.held if h.until <= now]

    def silenced(alert: Alert) -> str | None:
        if any(alert.brand == b for b in settings.mute_brands) or any(alert.source == s for s in settings.mute_sources):
            return "muted"
        if any(m.covers(alert, now) for m in state.mutes):
            return "muted"
        if any(s.covers(alert, now) for s in state.snoozes):
            return "snoozed"
        return None

    # Released alerts already passed the cooldown when they were first seen.
    digest_pool: dict[str, list[tuple[Alert, str]]] = defaultdict(list)
    for held in released:
        reason = silenced(held.alert)
        if reason:
            dropped.append(Dropped(held.alert, reason))
        else:
            digest_pool[held.alert.channel].append((held.alert, held.reason))

    last_seen = _last_by_subject(history, hold)
    fresh: dict[str, list[Alert]] = defaultdict(list)
    for alert in sorted(candidates, key=lambda a: (a.at, a.id)):
        reason = silenced(alert)
        if reason is None:
            cooldown = settings.cooldown(alert.rule)
            previous = last_seen.get((alert.rule, alert.subject))
            if cooldown > timedelta(0) and previous is not None and alert.at - previous < cooldown:
                reason = "cooldown"
        if reason:
            dropped.append(Dropped(alert, reason))
            continue
        last_seen[(alert.rule, alert.subject)] = alert.at
        fresh[alert.channel].append(alert)

    # Quiet hours: hold fresh alerts, and re-hold released ones that landed in a new quiet window.
    for channel in list(fresh):
        keep = []
        for alert in fresh[channel]:
            until = None if alert.urgent else _quiet_until(settings.quiet_hours, alert, now)
            if until is not None:
                hold.append(HeldAlert(alert, until, QUIET))
            else:
                keep.append(alert)
        fresh[channel] = keep
    for channel in list(digest_pool):
        pooled = []
        for alert, reason in digest_pool[channel]:
            until = _quiet_until(settings.quiet_hours, alert, now)
            if until is not None:
                hold.append(HeldAlert(alert, until, reason))
            else:
                pooled.append((alert, reason))
        digest_pool[channel] = pooled

    send: list[Alert] = []
    digests: list[Digest] = []
    window_start = now - settings.rate_window
    recent: dict[str, list[datetime]] = defaultdict(list)
    for sent in history:
        if sent.at > window_start:
            recent[sent.channel].append(require_utc(sent.at, "sent time"))
    for channel in sorted(set(fresh) | set(digest_pool)):
        urgent = [a for a in fresh[channel] if a.urgent]
        normal = [a for a in fresh[channel] if not a.urgent]
        pool = digest_pool.get(channel, [])
        send.extend(urgent)
        stamps = sorted(recent[channel] + [now] * len(urgent))
        limit = settings.max_per_channel
        slots = len(normal) + (1 if pool else 0) if limit is None else limit - len(stamps)
        if not pool and len(normal) <= slots:
            send.extend(normal)
            continue
        if slots >= 1:
            # Individual messages while they fit, keeping one slot for the digest of the rest.
            individual = normal if limit is None else normal[: slots - 1]
            rest = normal[len(individual) :]
            send.extend(individual)
            items = pool + [(a, RATE) for a in rest]
            if items:
                digests.append(_digest(channel, items))
            continue
        # No slot left in this window: wait until the oldest message in it ages out.
        assert limit is not None
        until = stamps[len(stamps) - limit] + settings.rate_window
        hold.extend(HeldAlert(a, until, r) for a, r in pool)
        hold.extend(HeldAlert(a, until, RATE) for a in normal)

    next_at = min((h.until for h in hold), default=None)
    return NoiseDecision(
        send=tuple(send), hold=tuple(hold), digests=tuple(digests), dropped=tuple(dropped), next_at=next_at
    )


def _last_by_subject(history: Sequence[SentAlert], held: Sequence[HeldAlert]) -> dict[tuple[str, str], datetime]:
    # Held alerts count as sent for the cooldown, so a digest does not carry ten copies of one spike.
    last: dict[tuple[str, str], datetime] = {}
    entries = [(s.rule, s.subject, s.at) for s in history] + [(h.alert.rule, h.alert.subject, h.alert.at) for h in held]
    for rule, subject, at in entries:
        key = (rule, subject)
        if key not in last or at > last[key]:
            last[key] = at
    return last


def _quiet_until(windows: Sequence[QuietHours], alert: Alert, now: datetime) -> datetime | None:
    """The end of the quiet window `alert` falls in at `now`, or None."""
    ends = []
    for window in windows:
        if window.channels and alert.channel not in window.channels:
            continue
        if any(fnmatch.fnmatchcase(alert.rule, rule) for rule in window.exempt_rules):
            continue
        end = window.calendar().open_until(now)
        if end is not None:
            ends.append(end)
    return max(ends) if ends else None


def _digest(channel: str, items: Sequence[tuple[Alert, str]]) -> Digest:
    members = tuple(sorted(items, key=lambda item: (item[0].at, item[0].id)))
    reasons = tuple(sorted({r for _, r in items}))
    digest = hashlib.sha256("\n".join(sorted(a.id for a, _ in members)).encode()).hexdigest()[:16]
    return Digest(id=f"digest:{channel}:{digest}", channel=channel, reasons=reasons, members=members)
