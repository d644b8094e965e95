"""Spike detection: a brand/source series' hourly volume or negative share against its rolling baseline.

Pure functions over hourly counts (the store's rollup feeds `HourlyCount` rows), and the outbox
event a spike raises. The listening job and the backtest both use them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from config.types import StrictModel
from listener.domain import require_utc
from listener.events import Event, EventKind, Explanation, SpikeFacts

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HourlyCount:
    """One brand/source/hour bucket of the rollup: classified mentions, scored ones, negative ones."""

    brand: str
    source: str
    hour: datetime
    mentions: int
    scored: int
    negative: int


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


# -- the judged hour and its spikes ----------------------------------------------------


def judged_hour(now: datetime, settle: timedelta) -> datetime:
    """The start of the latest hour that is over and settled: [h, h + 1h) with h + 1h + settle <= now.

    The running hour is never judged: a part of an hour compared with whole hours would
    always look quiet (and scaling it up would make a few early mentions look like a spike).
    """
    ready = require_utc(now, "now") - settle
    return ready.replace(minute=0, second=0, microsecond=0) - HOUR


def find_spikes(
    counts: Sequence[HourlyCount],
    hour: datetime,
    settings: SpikeSettings,
    first_hours: Mapping[tuple[str, str], datetime] | None = None,
) -> list[Spike]:
    """Volume and negative-share spikes of `hour` per brand and source, against the hours before it.

    The baseline is `baseline_days * 24` hours, shortened to the series' first hour with data
    (`first_hours`, else the first hour in `counts`) so a new source warms up instead of
    being compared with hours before it existed. Missing hours count as zero.
    """
    span = settings.baseline_days * 24
    window_start = hour - span * HOUR
    series: dict[tuple[str, str], dict[datetime, HourlyCount]] = defaultdict(dict)
    for count in counts:
        if window_start <= count.hour <= hour:
            series[(count.brand, count.source)][count.hour] = count
    options = {"k": settings.k, "min_count": settings.min_count, "min_baseline_hours": settings.min_baseline_hours}
    spikes = []
    for (brand, source), hours in sorted(series.items()):
        current = hours.get(hour)
        if current is None or current.mentions < settings.min_count:
            continue  # neither rule can fire below min_count: skip building the baseline
        first = (first_hours or {}).get((brand, source)) or min(hours)
        start = max(window_start, first.replace(minute=0, second=0, microsecond=0))
        length = max(0, round((hour - start) / HOUR))
        # Dense hourly buckets, oldest first; hours without a row stay zero.
        totals, scored, negative = [0] * length, [0] * length, [0] * length
        for at, count in hours.items():
            index = round((at - start) / HOUR)
            if 0 <= index < length:
                totals[index], scored[index], negative[index] = count.mentions, count.scored, count.negative
        volume = volume_spike(totals, current.mentions, **options)  # type: ignore[arg-type]
        if volume.spike:
            spikes.append(Spike(brand, source, volume))
        if settings.negative_share:
            share = negative_share_spike(
                scored, negative, current.scored, current.negative, **options  # type: ignore[arg-type]
            )
            if share.spike:
                spikes.append(Spike(brand, source, share))
    return spikes


def spike_event(spike: Spike, hour: datetime, k: float, now: datetime) -> Event:
    """The outbox event of a spike; its id is stable for the rule, brand/source and hour."""
    check = spike.check
    span = f"{hour:%Y-%m-%d %H:00}-{hour + HOUR:%H:00} UTC"
    if check.metric == "volume":
        state = "volume spike"
        text = (
            f"{check.count} mentions on {spike.source} in {span}: above the threshold {check.threshold:.3g} "
            f"= mean {check.mean:.3g} + {k:g} x sigma {check.sigma:.3g} over the last {check.baseline_hours} h"
        )
    else:
        state = "negative-share spike"
        text = (
            f"{check.value:.0%} negative of {check.count} scored mentions on {spike.source} in {span}: above the "
            f"threshold {check.threshold:.1%} = baseline {check.mean:.1%} + {k:g} x sigma {check.sigma:.1%} "
            f"over the last {check.baseline_hours} h"
        )
    event_id = f"{spike.rule}:{spike.subject}:{hour:%Y-%m-%dT%H}"
    return Event(
        id=event_id,
        kind=EventKind.SPIKE,
        brand=spike.brand,
        thread=event_id,
        created_at=now,
        source=spike.source,
        text=text,
        state=state,
        detail=check.explain(),
        rule=spike.rule,
        subject=spike.subject,
        explanation=Explanation(why=check.explain(), spike=SpikeFacts(
            hour=hour, metric=check.metric, value=check.value, count=check.count, mean=check.mean, sigma=check.sigma,
            k=k, threshold=check.threshold, baseline_hours=check.baseline_hours)),
    )
