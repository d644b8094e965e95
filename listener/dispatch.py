"""The outbox dispatcher: delivers pending events to each sink in order, retrying until they land."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from alerts.base import Event, EventKind, Sink
from listener.backoff import delay_for_attempt
from listener.clock import Clock
from listener.errors import SinkError
from listener.redact import redact
from listener.store import Store

logger = logging.getLogger(__name__)

# Machine sinks keep receiving every event: noise controls are for humans only.
MACHINE_SINKS = frozenset({"mqtt"})


def mute_reason(event: Event, mutes: Mapping[tuple[str, str], object]) -> str | None:
    """Why `event` is muted for humans (a muted source or brand), or None."""
    if event.kind is EventKind.MENTION:
        return None
    if event.source and ("source", event.source) in mutes:
        return f"muted source {event.source} until {mutes[('source', event.source)]}"
    if event.brand and ("brand", event.brand) in mutes:
        return f"muted brand {event.brand} until {mutes[('brand', event.brand)]}"
    return None


@dataclass(slots=True)
class DispatchStats:
    """Counters for the shutdown summary and metrics."""

    delivered: int = 0
    failures: int = 0
    suppressed: int = 0


class Dispatcher:
    """Sends outbox events; a dead sink delays its own events and never anyone else's."""

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        clock: Clock,
        *,
        retry_base: float = 2.0,
        retry_max: float = 300.0,
        batch: int = 100,
        mute_brands: Iterable[str] = (),
        mute_sources: Iterable[str] = (),
    ) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.clock = clock
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.batch = batch
        self.stats = DispatchStats()
        # Standing mutes from the config; timed ones (`listener mute`) are read from the store each pass.
        self._standing: dict[tuple[str, str], object] = {
            **{("brand", b): "unmuted in the config" for b in mute_brands},
            **{("source", src): "unmuted in the config" for src in mute_sources},
        }
        self._down: set[str] = set()
        self._lock = asyncio.Lock()

    def route(self, event: Event) -> list[str]:
        """Names of the sinks that want `event` (the store creates one delivery row per name)."""
        return [name for name, sink in self.sinks.items() if sink.accepts(event)]

    async def dispatch_once(self) -> int:
        """Deliver everything that is due now; return how many deliveries succeeded."""
        async with self._lock:  # the scheduler and a kick may overlap; one pass at a time
            counts = await asyncio.gather(*(self._drain_sink(name) for name in self.sinks))
        return sum(counts)

    async def _drain_sink(self, name: str) -> int:
        sink = self.sinks[name]
        delivered = 0
        while True:
            pending = await self.store.pending_deliveries(name, self.clock.now(), self.batch)
            if not pending:
                return delivered
            mutes = {} if name in MACHINE_SINKS else {
                **self._standing, **await self.store.active_mutes(self.clock.now())}
            for item in pending:
                reason = mute_reason(item.event, mutes) if mutes else None
                if reason is not None:
                    # Recorded with its reason rather than dropped: `listener alerts stats` counts it.
                    await self.store.mark_suppressed(item.event_seq, name, reason, self.clock.now())
                    self.stats.suppressed += 1
                    continue
                previous = await self.store.last_ref(item.event.thread, name)
                try:
                    ref = await sink.send(item.event, previous)
                except SinkError as err:
                    await self._failed(name, item.event_seq, item.attempts + 1, err, err.retry_after)
                    return delivered
                except Exception as err:  # a sink bug must not lose the event
                    logger.exception("%s: unexpected error delivering %s", name, item.event.id)
                    await self._failed(name, item.event_seq, item.attempts + 1, err, None)
                    return delivered
                await self.store.mark_delivered(item.event_seq, name, ref, self.clock.now())
                delivered += 1
                self.stats.delivered += 1
                if name in self._down:
                    self._down.discard(name)
                    logger.info("%s: delivering again", name)
            if len(pending) < self.batch:
                return delivered

    async def _failed(self, name: str, seq: int, attempts: int, err: Exception, retry_after: float | None) -> None:
        self.stats.failures += 1
        delay = retry_after if retry_after is not None else delay_for_attempt(attempts, self.retry_base, self.retry_max)
        retry_at = self.clock.now() + timedelta(seconds=delay)
        message = redact(f"{type(err).__name__}: {err}")
        if name not in self._down:
            logger.warning("%s: delivery failed (%s); the outbox keeps the event, retry in %.1fs", name, message, delay)
            self._down.add(name)
        await self.store.mark_failed(seq, name, message, retry_at)

    async def close(self) -> None:
        """Close every sink."""
        for name, sink in self.sinks.items():
            try:
                await sink.close()
            except Exception:
                logger.exception("%s: error while closing", name)
