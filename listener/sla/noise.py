"""Alert-noise controls (mute, snooze, cooldown, quiet hours, rate limit with digests) and spike detection."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, field_validator

from config.types import Duration, StrictModel
from listener.domain import require_utc
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
    rate_window: Duration = "10m"
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    mute_brands: list[str] = Field(default_factory=list)
    mute_sources: list[str] = Field(default_factory=list)

    def cooldown(self, rule: str) -> timedelta:
        """The cooldown of `rule`: an exact key wins, then the first matching glob, else none."""
        if rule in self.cooldowns:
            return self.cooldowns[rule]
        for pattern, value in self.cooldowns.items():
            if fnmatch.fnmatchcase(rule, pattern):
                return value
        return timedelta(0)


@functools.lru_cache(maxsize=64)
def _quiet_calendar(hours: str, days: str, timezone: str) -> BusinessCalendar:
    start, length = parse_span(hours)
    shifts = [Shift(day, start, length) for day in parse_days(days)]
    return BusinessCalendar(name=f"quiet {days} {hours}", timezone=timezone, shifts=shifts)


# -- values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A candidate notification.

    `rule` names what raised it ("sla.breach", "spike.volume", "crisis"); `subject` is what
    the cooldown is kept per (a brand/source pair for spikes, the mention key for SLA steps);
    `urgent` alerts skip quiet hours and the rate limit (never mutes or snoozes).
    """

    id: str
    rule: str
    channel: str
    at: datetime
    brand: str = ""
    source: str = ""
    subject: str = ""
    urgent: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_utc(self.at, "alert time"))


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
    """Silence a brand and/or a source, until `until` (None: until unmuted)."""

    brand: str = ""
    source: str = ""
    until: datetime | None = None

    def covers(self, alert: Alert, now: datetime) -> bool:
        """Whether this mute silences `alert` at `now`."""
        if self.until is not None and now >= self.until:
            return False
        if not self.brand and not self.source:
            return False
        return (not self.brand or self.brand == alert.brand) and (not self.source or self.source == alert.source)


@dataclass(frozen=True, slots=True)
class NoiseState:
    """What the store knows besides the history: alerts held earlier, live snoozes and mutes."""

    held: tuple[HeldAlert, ...] = ()
    snoozes: tuple[Snooze, ...] = ()
    mutes: tuple[Mute, ...] = ()


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts for one channel rolled into one message; `id` is stable for the same alerts."""

    id: str
    channel: str
    reasons: tuple[str, ...]
    alerts: tuple[Alert, ...]


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
    alerts = tuple(sorted((a for a, _ in items), key=lambda a: (a.at, a.id)))
    reasons = tuple(sorted({r for _, r in items}))
    digest = hashlib.sha256("\n".join(sorted(a.id for a in alerts)).encode()).hexdigest()[:16]
    return Digest(id=f"digest:{channel}:{digest}", channel=channel, reasons=reasons, alerts=alerts)


# -- spike detection --------------------------------------------------------------------


class SpikeSettings(StrictModel):
    """[alerts.spikes]: rolling-baseline spike alerts per brand and source."""

    baseline_days: int = Field(default=14, ge=1, le=90, description="Days of hourly buckets in the baseline.")
    k: float = Field(default=3.0, gt=0, description="How many sigmas above the mean counts as a spike.")
    min_count: int = Field(default=10, ge=1, description="Mentions needed in the current hour to alert at all.")
    min_baseline_hours: int = Field(default=24, ge=1, description="Hours of history needed before alerting.")
    negative_share: bool = True


@dataclass(frozen=True, slots=True)
class SpikeCheck:
    """One metric tested against its baseline, with the numbers that explain the outcome."""

    metric: Literal["volume", "negative_share"]
    value: float
    mean: float
    sigma: float
    threshold: float
    count: int
    baseline_hours: int
    spike: bool
    reason: str

    def explain(self) -> str:
        """E.g. "volume 42 vs mean 5.1, sigma 2.3 over 336 h: threshold 12.0 -> spike"."""
        if self.metric == "volume":
            value = f"volume {self.value:g}"
        else:
            value = f"negative share {self.value:.0%} of {self.count}"
        return (
            f"{value} vs mean {self.mean:.3g}, sigma {self.sigma:.3g} over {self.baseline_hours} h: "
            f"threshold {self.threshold:.3g} -> {self.reason}"
        )


def volume_spike(
    baseline: Sequence[int], current: int, *, k: float = 3.0, min_count: int = 10, min_baseline_hours: int = 24
) -> SpikeCheck:
    """Is `current` (this hour's count) above mean + k*sigma of the hourly `baseline`?

    Sigma is floored at sqrt(mean) and at 1: counts are at least Poisson-noisy, and a flat
    baseline must not turn every extra mention into a spike.
    """
    hours = len(baseline)
    mean = sum(baseline) / hours if hours else 0.0
    std = _std(baseline, mean)
    sigma = max(std, math.sqrt(mean), 1.0)
    threshold = mean + k * sigma
    if hours < min_baseline_hours:
        spike, reason = False, f"warming up ({hours} of {min_baseline_hours} h)"
    elif current < min_count:
        spike, reason = False, f"below min_count {min_count}"
    else:
        spike = current > threshold
        reason = "spike" if spike else "normal"
    return SpikeCheck("volume", float(current), mean, sigma, threshold, current, hours, spike, reason)


def negative_share_spike(
    baseline_totals: Sequence[int],
    baseline_negatives: Sequence[int],
    current_total: int,
    current_negative: int,
    *,
    k: float = 3.0,
    min_count: int = 10,
    min_baseline_hours: int = 24,
) -> SpikeCheck:
    """Is this hour's negative share above the baseline share + k*sigma?

    The baseline share is pooled (all negatives / all mentions); sigma is the spread of the
    hourly shares (hours with mentions), floored at the binomial noise of this hour's count.
    """
    if len(baseline_totals) != len(baseline_negatives):
        raise ValueError("baseline_totals and baseline_negatives must have the same length")
    if current_negative > current_total or any(n > t for n, t in zip(baseline_negatives, baseline_totals, strict=True)):
        raise ValueError("negative counts cannot exceed totals")
    total = sum(baseline_totals)
    mean = sum(baseline_negatives) / total if total else 0.0
    shares = [n / t for n, t in zip(baseline_negatives, baseline_totals, strict=True) if t > 0]
    std = _std(shares, sum(shares) / len(shares)) if shares else 0.0
    noise = math.sqrt(max(mean * (1 - mean), 1e-9) / max(current_total, 1))
    sigma = max(std, noise)
    threshold = mean + k * sigma
    share = current_negative / current_total if current_total else 0.0
    hours = len(baseline_totals)
    if hours < min_baseline_hours:
        spike, reason = False, f"warming up ({hours} of {min_baseline_hours} h)"
    elif current_total < min_count:
        spike, reason = False, f"below min_count {min_count}"
    else:
        spike = share > threshold
        reason = "spike" if spike else "normal"
    return SpikeCheck("negative_share", share, mean, sigma, threshold, current_total, hours, spike, reason)


@dataclass(frozen=True, slots=True)
class HourlySeries:
    """Hourly counts for one brand and source, oldest first; the last bucket is the hour being judged."""

    totals: Sequence[int]
    negatives: Sequence[int]


@dataclass(frozen=True, slots=True)
class Spike:
    """A detected spike for one brand and source (feed it to the noise controls as an Alert)."""

    brand: str
    source: str
    check: SpikeCheck

    @property
    def rule(self) -> str:
        """ "spike.volume" or "spike.negative_share"."""
        return f"spike.{self.check.metric}"

    @property
    def subject(self) -> str:
        """The cooldown subject: "<brand>/<source>"."""
        return f"{self.brand}/{self.source}"


def detect_spikes(series: Mapping[tuple[str, str], HourlySeries], settings: SpikeSettings) -> list[Spike]:
    """Volume and negative-share spikes per (brand, source), against the last `baseline_days` of hours."""
    spikes = []
    span = settings.baseline_days * 24
    for (brand, source), counts in sorted(series.items()):
        if len(counts.totals) != len(counts.negatives):
            raise ValueError(f"{brand}/{source}: totals and negatives differ in length")
        if not counts.totals:
            continue
        totals, negatives = list(counts.totals), list(counts.negatives)
        base_t, base_n = totals[:-1][-span:], negatives[:-1][-span:]
        options = {"k": settings.k, "min_count": settings.min_count, "min_baseline_hours": settings.min_baseline_hours}
        volume = volume_spike(base_t, totals[-1], **options)  # type: ignore[arg-type]
        if volume.spike:
            spikes.append(Spike(brand, source, volume))
        if settings.negative_share:
            share = negative_share_spike(base_t, base_n, totals[-1], negatives[-1], **options)  # type: ignore[arg-type]
            if share.spike:
                spikes.append(Spike(brand, source, share))
    return spikes


def hourly_buckets(counts: Mapping[datetime, int], last_hour: datetime, hours: int) -> list[int]:
    """Dense hourly counts ending with the hour that holds `last_hour` (missing hours are 0)."""
    end = require_utc(last_hour, "last_hour").replace(minute=0, second=0, microsecond=0)
    by_hour: dict[datetime, int] = defaultdict(int)
    for at, count in counts.items():
        by_hour[require_utc(at, "bucket").replace(minute=0, second=0, microsecond=0)] += count
    start = end - timedelta(hours=hours - 1)
    return [by_hour.get(start + timedelta(hours=i), 0) for i in range(hours)]


def _std(values: Sequence[float], mean: float) -> float:
    if not values:
        return 0.0
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
