"""One poller per connector: poll, store with the cursor, queue new mentions, back off on failure."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import Connector, ConnectorConfig
from listener.backoff import Backoff
from listener.clock import Clock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from listener.events import Event, EventKind
from listener.redact import redact
from listener.store import SinkRouter, Store, SyncStore
from listener.timefmt import human_duration, iso, parse_iso

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class PollStats:
    """Counters for the shutdown summary."""

    polls: int = 0
    failures: int = 0
    new_mentions: int = 0
    replies: int = 0


class SourcePoller:
    """Drives one connector: the HA coordinator pattern, without HA."""

    def __init__(
        self,
        name: str,
        connector: Connector,
        config: ConnectorConfig,
        store: Store,
        enqueue: Callable[[list[str]], Awaitable[None]],
        clock: Clock,
        router: SinkRouter,
    ) -> None:
        self.name = name
        self.connector = connector
        self.config = config
        self.store = store
        self.enqueue = enqueue
        self.clock = clock
        self.router = router
        self.interval = config.poll_interval.total_seconds()
        self.backoff = Backoff(base=max(self.interval, 1.0), cap=config.max_backoff.total_seconds())
        self.stats = PollStats()
        self.up = True
        self._first_failure: datetime | None = None
        self._last_success: datetime | None = None
        self._restored = False

    def jittered(self, delay: float) -> float:
        """Add the configured random jitter, so pollers don't fire in lockstep."""
        return delay + random.uniform(0, self.config.jitter.total_seconds())

    async def _restore(self) -> None:
        """Pick up an outage that began before a restart, so its alerts stay truthful."""
        row = await self.store.call(SyncStore.health_row, self.name)
        self._restored = True
        if row:
            self._last_success = parse_iso(row.get("last_success"))
            self._first_failure = parse_iso(row.get("first_failure_at"))
            self.up = row.get("state") in (None, "up")
            if not self.up:
                self.backoff.failures = int(row.get("consecutive_failures") or 0)

    async def run_once(self) -> float:
        """Poll once; return the delay (seconds) before the next poll."""
        if not self._restored:
            await self._restore()
        self.stats.polls += 1
        try:
            cursor = await self.store.call(SyncStore.get_cursor, self.name)
            page = await self.connector.poll(cursor)
            now = self.clock.now()
            keys = await self.store.call(SyncStore.ingest, self.name, page.mentions, page.replies, page.cursor, now,
                                         self.router)
            self.stats.new_mentions += len(keys)
            self.stats.replies += len(page.replies)
            await self.enqueue(keys)
            await self._check_replies()
        except SourceAuthError as err:
            return await self._failed(err, auth=True)
        except TransientSourceError as err:
            return await self._failed(err, retry_after=err.retry_after)
        except SourceError as err:
            return await self._failed(err)
        except sqlite3.Error:
            raise  # the database, not the source: the daemon backs off and reports it once
        except Exception as err:  # a connector bug must not kill the daemon
            if self.up:  # the traceback once per incident; _failed logs the one-line warning
                logger.debug("%s: unexpected error while polling", self.name, exc_info=True)
            return await self._failed(err)
        await self._succeeded(len(keys))
        return self.interval

    async def _check_replies(self) -> None:
        """Ask the source about brand replies to complaints that are still open."""
        open_mentions = await self.store.call(SyncStore.open_complaint_mentions, self.name)
        if not open_mentions:
            return
        replies = await self.connector.replies(open_mentions)
        if replies:
            self.stats.replies += len(replies)
            await self.store.call(SyncStore.record_replies, replies, self.clock.now(), self.router)

    async def _succeeded(self, new: int) -> None:
        now = self.clock.now()
        if not self.up:
            logger.info("%s: source is back up after %d failed polls", self.name, self.backoff.failures)
            await self._check_lookback(now)
        self.up = True
        self.backoff.reset()
        self._first_failure = None
        self._last_success = now
        activity = await self.store.call(SyncStore.source_activity, self.name, now)
        await self.store.call(SyncStore.save_health,
            self.name,
            state="up",
            last_success=iso(now),
            consecutive_failures=0,
            first_failure_at=None,
            retry_at=None,
            rate_limited_until=None,
            polls=self.stats.polls,
            mentions_total=self.stats.new_mentions,
            last_mention_at=iso(activity["last_mention_at"]) if activity["last_mention_at"] else None,
        )
        await self.store.call(SyncStore.beat, f"poll:{self.name}", now)
        await self._check_gap(now, activity)

    async def _failed(self, err: Exception, *, retry_after: float | None = None, auth: bool = False) -> float:
        self.stats.failures += 1
        message = redact(f"{type(err).__name__}: {err}")
        delay = self.backoff.next(retry_after)
        if self.up:  # log the down edge only; the recovery edge is logged in _succeeded
            logger.warning("%s: poll failed (%s); retrying in %.0fs", self.name, message, delay)
        self.up = False
        now = self.clock.now()
        if self._first_failure is None:
            self._first_failure = now
        await self.store.call(SyncStore.save_health,
            self.name,
            state="auth_failed" if auth else "down",
            last_error=message,
            last_error_at=iso(now),
            consecutive_failures=self.backoff.failures,
            first_failure_at=iso(self._first_failure),
            retry_at=iso(now + timedelta(seconds=delay)),
            rate_limited_until=iso(now + timedelta(seconds=retry_after)) if retry_after else None,
            polls=self.stats.polls,
        )
        if auth:  # the id carries the outage start: one alert per incident, across restarts
            await self._alert("auth", iso(self._first_failure), "auth_failed",
                              f"{self.name}: credentials were rejected ({message})")
        threshold = self.config.down_alert_after
        if threshold > timedelta(0) and now - self._first_failure >= threshold:
            since = self._first_failure
            await self._alert("down", iso(since), "down",
                              f"{self.name}: failing since {since:%Y-%m-%d %H:%M} UTC "
                              f"({human_duration(now - since, sep='')}); last error: {message}")
        return delay

    async def _check_lookback(self, now: datetime) -> None:
        """After an outage longer than the API can reach back, say which period may be missing."""
        lookback: timedelta | None = getattr(type(self.connector), "max_lookback", None)
        if lookback is None or self._last_success is None:
            return
        if now - self._last_success > lookback:
            lost_until = now - lookback
            lasted = human_duration(now - self._last_success, sep="")
            detail = (f"{self.name}: the outage lasted {lasted}, longer than the "
                      f"{human_duration(lookback, sep='')} the API can return; mentions posted between "
                      f"{self._last_success:%Y-%m-%d %H:%M} and {lost_until:%Y-%m-%d %H:%M} UTC may be missing")
            logger.warning("%s", detail)
            await self._alert("lookback", iso(self._last_success), "gap", detail)

    async def _check_gap(self, now: datetime, activity: dict[str, object]) -> None:
        """Alert when a source that usually brings mentions has brought none for a while."""
        window = self.config.gap_alert_after
        last = activity["last_mention_at"]
        if window <= timedelta(0) or not isinstance(last, datetime) or now - last < window:
            return
        # "Usually busy": at least three mentions expected in such a window, judging by the last week.
        expected = int(activity["last_7d"]) * (window / timedelta(days=7))  # type: ignore[call-overload]
        if expected >= 3:
            await self._alert("gap", iso(last), "gap",
                              f"{self.name}: no mention for {human_duration(now - last, sep='')} although about "
                              f"{expected:.0f} are usual in that time")

    async def _alert(self, what: str, incident: str, state: str, detail: str) -> None:
        """Queue a source-health alert, once per incident (the id carries the incident start)."""
        await self.store.call(SyncStore.enqueue,
            Event(
                id=f"source:{self.name}:{what}:{incident}",
                kind=EventKind.SOURCE,
                brand="",
                thread=f"source:{self.name}:{what}:{incident}",
                created_at=self.clock.now(),
                source=self.name,
                state=state,
                detail=detail,
            ),
            self.router,
        )

