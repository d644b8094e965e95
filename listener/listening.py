"""The listening-alert job: volume and negative-share spikes, crisis keywords, VIP and high-reach authors.

Spikes judge the last complete, settled hour of each brand/source series (hourly buckets from
the store's rollup) against its rolling baseline; crisis keywords and authors are checked once
per mention, following a cursor over stored mentions. Every alert has a stable id (rule,
subject, hour or mention), goes through the outbox, and is subject to a per-rule cooldown kept
in the store. Competitor brands never raise alerts.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from alerts.base import Event, EventKind
from config.schema import ListeningSettings
from connectors.matching import same_account
from listener.clock import Clock
from listener.domain import require_utc
from listener.sla.noise import Spike, SpikeSettings, negative_share_spike, volume_spike
from listener.sla.policy import Policy
from listener.store import HourlyCount, ListenedMention, ListeningOutcome, RuleAlert, SinkRouter, Store, SyncStore
from listener.text import keyword_pattern  # the same whole-word rule as clock priority

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
CRISIS: Final = "crisis"
VIP: Final = "vip"


# -- what to watch ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Watch:
    """One set of crisis keywords and VIP / high-reach conditions, scoped to brands and sources (globs)."""

    origin: str
    brands: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    min_followers: int | None = None

    def covers(self, brand: str, source: str) -> bool:
        """Whether this watch applies to `brand` on `source` (empty scopes match anything)."""
        return (not self.brands or any(fnmatch.fnmatchcase(brand, b) for b in self.brands)) and (
            not self.sources or any(fnmatch.fnmatchcase(source, s) for s in self.sources)
        )


def build_watches(settings: ListeningSettings, policies: Sequence[Policy] = ()) -> list[Watch]:
    """The watches of `[alerts.listening]`, plus (with `from_policies`) each policy's priority conditions.

    A policy's keywords, authors and min_followers are watched within its brands and sources,
    each on its own: `priority_match = "all"` decides clock priority, not whether a crisis
    word is worth an alert.
    """
    watches = []
    if settings.crisis_keywords or settings.min_followers is not None:
        watches.append(
            Watch("[alerts.listening]", keywords=tuple(settings.crisis_keywords), min_followers=settings.min_followers)
        )
    for pattern, handles in settings.vip_authors.items():
        if handles:
            watches.append(Watch(f"vip_authors for {pattern!r}", sources=(pattern,), authors=tuple(handles)))
    if settings.from_policies:
        for policy in policies:
            if policy.keywords or policy.authors or policy.min_followers is not None:
                watches.append(
                    Watch(
                        f"policy {policy.name!r}",
                        brands=tuple(policy.brands),
                        sources=tuple(policy.sources),
                        keywords=tuple(policy.keywords),
                        authors=tuple(policy.authors),
                        min_followers=policy.min_followers,
                    )
                )
    return watches


@dataclass(frozen=True, slots=True)
class Hit:
    """Why a mention raises a crisis or VIP alert."""

    rule: Literal["crisis", "vip"]
    subject: str
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)


def crisis_hit(watches: Sequence[Watch], brand: str, source: str, text: str) -> Hit | None:
    """The first crisis keyword found in `text` by a watch covering `brand` on `source`."""
    for watch in watches:
        if not watch.keywords or not watch.covers(brand, source):
            continue
        found = keyword_pattern(watch.keywords).search(text)
        if found:
            word = found.group(0)
            return Hit(
                CRISIS,
                f"{brand}/{word.casefold()}",
                f'crisis keyword "{word}" ({watch.origin})',
                {"keyword": word, "origin": watch.origin},
            )
    return None


def author_hit(
    watches: Sequence[Watch], brand: str, source: str, author: str, followers: int | None
) -> Hit | None:
    """A VIP-listed author, else an author at or above the lowest follower threshold that applies."""
    subject = f"{source}/{author.strip().lstrip('@').casefold()}"
    covering = [w for w in watches if w.covers(brand, source)]
    for watch in covering:
        if author and any(same_account(author, handle) for handle in watch.authors):
            return Hit(VIP, subject, f"VIP author {author} ({watch.origin})", {"vip": True, "origin": watch.origin})
    thresholds = [(w.min_followers, w.origin) for w in covering if w.min_followers is not None]
    if followers is None or not thresholds:
        return None
    threshold, origin = min(thresholds)
    if followers < threshold:
        return None
    reason = f"high reach: {followers:,} followers >= {threshold:,} ({origin})"
    return Hit(VIP, subject, reason, {"followers": followers, "min_followers": threshold, "origin": origin})


# -- spikes -----------------------------------------------------------------------------


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
        extra={
            "rule": spike.rule,
            "subject": spike.subject,
            "hour": hour.isoformat(),
            "metric": check.metric,
            "value": check.value,
            "count": check.count,
            "mean": check.mean,
            "sigma": check.sigma,
            "k": k,
            "threshold": check.threshold,
            "baseline_hours": check.baseline_hours,
            "why": check.explain(),
        },
    )


def mention_event(mention: ListenedMention, brand: str, hit: Hit, now: datetime) -> Event:
    """The outbox event of a crisis or VIP mention; its id is stable for the rule and mention."""
    event_id = f"{hit.rule}:{mention.key}"
    return Event(
        id=event_id,
        kind=EventKind.CRISIS if hit.rule == CRISIS else EventKind.VIP,
        brand=brand,
        thread=event_id,  # its own message: never an update of the complaint's
        created_at=now,
        source=mention.source,
        mention_key=mention.key,
        author=mention.author,
        text=mention.text,
        url=mention.url,
        sentiment=mention.sentiment,
        p_complaint=mention.p_complaint,
        language=mention.language,
        mention_at=mention.created_at,
        state=hit.reason,
        detail=hit.reason,
        extra={"rule": hit.rule, "subject": hit.subject, "why": hit.reason, **hit.facts},
    )


def mention_alerts(mention: ListenedMention, watches: Sequence[Watch], now: datetime) -> list[RuleAlert]:
    """At most one crisis and one VIP alert for a mention (for its first own brand that matches)."""
    alerts = []
    for rule in (CRISIS, VIP):
        for brand in mention.brands:
            if rule == CRISIS:
                hit = crisis_hit(watches, brand, mention.source, mention.text)
            else:
                hit = author_hit(watches, brand, mention.source, mention.author, mention.followers)
            if hit is not None:
                event = mention_event(mention, brand, hit, now)
                alerts.append(RuleAlert(hit.rule, hit.subject, mention.created_at, event))
                break
    return alerts


def cooldown_for(rule: str, cooldowns: Mapping[str, timedelta]) -> timedelta:
    """The cooldown of `rule`: an exact key wins, then the first matching glob, else none."""
    if rule in cooldowns:
        return cooldowns[rule]
    for pattern, value in cooldowns.items():
        if fnmatch.fnmatchcase(rule, pattern):
            return value
    return timedelta(0)


# -- the job ----------------------------------------------------------------------------


@dataclass(slots=True)
class ListeningRun:
    """What one pass did (for logs, metrics and tests)."""

    hour: datetime
    spikes: list[Spike] = field(default_factory=list)
    mentions_scanned: int = 0
    sent: list[Event] = field(default_factory=list)
    duplicates: int = 0
    held_back: int = 0
    unrouted: int = 0
    seconds: float = 0.0


class ListeningJob:
    """Runs the listening rules over the store and queues their alerts in the outbox."""

    def __init__(
        self,
        store: Store,
        settings: ListeningSettings,
        clock: Clock,
        router: SinkRouter,
        *,
        policies: Sequence[Policy] = (),
        batch: int = 1000,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.router = router
        self.watches = build_watches(settings, policies)
        self.batch = batch

    def cooldown(self, rule: str) -> timedelta:
        """The configured cooldown of `rule` ("spike.volume", "spike.negative_share", "crisis", "vip")."""
        return cooldown_for(rule, self.settings.cooldowns)

    async def run_once(self) -> ListeningRun:
        """Judge the last settled hour for spikes, then check the mentions stored since the last pass."""
        started = time.perf_counter()
        now = self.clock.now()
        run = ListeningRun(hour=judged_hour(now, self.settings.settle))
        await self._spikes(run, now)
        await self._mentions(run, now)
        run.seconds = time.perf_counter() - started
        if run.sent or run.held_back:
            logger.info(
                "listening: %d alerts queued, %d held back by cooldowns (hour %s, %d mentions checked)",
                len(run.sent), run.held_back, f"{run.hour:%Y-%m-%d %H:00}", run.mentions_scanned,
            )
        return run

    async def _spikes(self, run: ListeningRun, now: datetime) -> None:
        spikes_cfg = self.settings.spikes
        start = run.hour - spikes_cfg.baseline_days * 24 * HOUR
        counts: list[HourlyCount] = await self.store.call(SyncStore.hourly_brand_counts, start, run.hour)
        earliest: dict[tuple[str, str], datetime] = {}
        busy: set[tuple[str, str]] = set()
        for count in counts:
            key = (count.brand, count.source)
            earliest[key] = min(earliest.get(key, count.hour), count.hour)
            if count.hour == run.hour and count.mentions >= spikes_cfg.min_count:
                busy.add(key)
        # Only a series busy enough to alert needs to know where its history really begins.
        first_hours = {}
        for key in sorted(busy):
            if earliest[key] > start:
                first = await self.store.call(SyncStore.series_first_hour, *key)
                first_hours[key] = first or earliest[key]
        run.spikes = find_spikes(counts, run.hour, spikes_cfg, first_hours)
        alerts = [
            RuleAlert(spike.rule, spike.subject, run.hour, spike_event(spike, run.hour, spikes_cfg.k, now))
            for spike in run.spikes
        ]
        if alerts:
            self._count(run, await self.store.call(SyncStore.fire_listening_alerts, alerts, self.cooldown, self.router))

    async def _mentions(self, run: ListeningRun, now: datetime) -> None:
        cursor = await self.store.call(SyncStore.listening_cursor)
        since = now - self.settings.max_age
        while True:
            mentions, next_cursor = await self.store.call(SyncStore.listening_mentions, cursor, since, self.batch)
            run.mentions_scanned += len(mentions)
            alerts = [a for m in mentions for a in mention_alerts(m, self.watches, now)] if self.watches else []
            self._count(
                run, await self.store.call(SyncStore.fire_listening_alerts, alerts, self.cooldown, self.router,
                                           cursor=next_cursor)
            )
            if len(mentions) < self.batch or next_cursor[0] == cursor:
                return
            cursor = next_cursor[0]

    @staticmethod
    def _count(run: ListeningRun, outcome: ListeningOutcome) -> None:
        run.sent.extend(outcome.sent)
        run.duplicates += outcome.duplicates
        run.held_back += len(outcome.held_back)
        run.unrouted += outcome.unrouted
