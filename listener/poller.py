"""One poller per connector: poll, store with the cursor, queue new mentions, back off on failure."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alerts.base import Event, EventKind
from connectors.base import Connector, ConnectorConfig
from listener.backoff import Backoff
from listener.clock import Clock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from listener.redact import redact
from listener.store import SinkRouter, Store, iso

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
        self._auth_incident: str | None = None

    def jittered(self, delay: float) -> float:
        """Add the configured random jitter, so pollers don't fire in lockstep."""
        return delay + random.uniform(0, self.config.jitter.total_seconds())

    async def run_once(self) -> float:
        """Poll once; return the delay (seconds) before the next poll."""
        self.stats.polls += 1
        try:
            cursor = await self.store.get_cursor(self.name)
            page = await self.connector.poll(cursor)
            now = self.clock.now()
            keys = await self.store.ingest(self.name, page.mentions, page.replies, page.cursor, now, self.router)
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
        except Exception as err:  # a connector bug must not kill the daemon
            logger.exception("%s: unexpected error while polling", self.name)
            return await self._failed(err)
        await self._succeeded(len(keys))
        return self.interval

    async def _check_replies(self) -> None:
        """Ask the source about brand replies to complaints that are still open."""
        open_mentions = await self.store.open_complaint_mentions(self.name)
        if not open_mentions:
            return
        replies = await self.connector.replies(open_mentions)
        if replies:
            self.stats.replies += len(replies)
            await self.store.record_replies(replies, self.clock.now(), self.router)

    async def _succeeded(self, new: int) -> None:
        if not self.up:
            logger.info("%s: source is back up after %d failed polls", self.name, self.backoff.failures)
        self.up = True
        self.backoff.reset()
        self._auth_incident = None
        now = self.clock.now()
        await self.store.save_health(
            self.name,
            state="up",
            last_success=iso(now),
            consecutive_failures=0,
            retry_at=None,
            polls=self.stats.polls,
            mentions_total=self.stats.new_mentions,
        )
        await self.store.beat(f"poll:{self.name}", now)

    async def _failed(self, err: Exception, *, retry_after: float | None = None, auth: bool = False) -> float:
        self.stats.failures += 1
        message = redact(f"{type(err).__name__}: {err}")
        delay = self.backoff.next(retry_after)
        if self.up:  # log the down edge only; the recovery edge is logged in _succeeded
            logger.warning("%s: poll failed (%s); retrying in %.0fs", self.name, message, delay)
        self.up = False
        now = self.clock.now()
        await self.store.save_health(
            self.name,
            state="auth_failed" if auth else "down",
            last_error=message,
            last_error_at=iso(now),
            consecutive_failures=self.backoff.failures,
            retry_at=iso(now.fromtimestamp(now.timestamp() + delay, now.tzinfo)),
            polls=self.stats.polls,
        )
        if auth and self._auth_incident is None:
            self._auth_incident = iso(now)
            await self.store.enqueue(
                Event(
                    id=f"source:{self.name}:auth:{self._auth_incident}",
                    kind=EventKind.SOURCE,
                    brand="",
                    thread=f"source:{self.name}",
                    created_at=now,
                    source=self.name,
                    state="auth_failed",
                    detail=f"{self.name}: credentials were rejected ({message})",
                ),
                self.router,
            )
        return delay
