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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from config.schema import ListeningSettings
from connectors.matching import same_account
from listener.clock import Clock
from listener.events import Event, EventKind, Explanation, HitFacts
from listener.noise.rules import cooldown_for
from listener.noise.spikes import HOUR, HourlyCount, Spike, find_spikes, judged_hour, spike_event
from listener.sla.policy import Policy
from listener.store import ListenedMention, ListeningOutcome, SinkRouter, Store, SyncStore
from listener.text import keyword_pattern  # the same whole-word rule as clock priority

logger = logging.getLogger(__name__)

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
    facts: HitFacts = field(default_factory=HitFacts)


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
                HitFacts(keyword=word, origin=watch.origin),
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
            return Hit(VIP, subject, f"VIP author {author} ({watch.origin})", HitFacts(vip=True, origin=watch.origin))
    thresholds = [(w.min_followers, w.origin) for w in covering if w.min_followers is not None]
    if followers is None or not thresholds:
        return None
    threshold, origin = min(thresholds)
    if followers < threshold:
        return None
    reason = f"high reach: {followers:,} followers >= {threshold:,} ({origin})"
    return Hit(VIP, subject, reason, HitFacts(followers=followers, min_followers=threshold, origin=origin))


# -- crisis and VIP events --------------------------------------------------------------


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
        rule=hit.rule,
        subject=hit.subject,
        explanation=Explanation(why=hit.reason, hit=hit.facts),
    )


def mention_alerts(mention: ListenedMention, watches: Sequence[Watch], now: datetime) -> list[Event]:
    """At most one crisis and one VIP alert for a mention (for its first own brand that matches)."""
    alerts = []
    for rule in (CRISIS, VIP):
        for brand in mention.brands:
            if rule == CRISIS:
                hit = crisis_hit(watches, brand, mention.source, mention.text)
            else:
                hit = author_hit(watches, brand, mention.source, mention.author, mention.followers)
            if hit is not None:
                alerts.append(mention_event(mention, brand, hit, now))
                break
    return alerts


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
        alerts = [spike_event(spike, run.hour, spikes_cfg.k, now) for spike in run.spikes]
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
