"""The outbox dispatcher: delivers pending events to each sink in order, retrying until they land.

One pass of a sink claims a batch in one store call (the due deliveries, the last message ref
of each of their threads, mutes, and for noise controls the held alerts and recent history),
sends the batch with bounded concurrency across threads (one thread's events stay in order, so
Slack updates of one message never overtake each other), records each accepted send before its
slot is freed (a crash repeats at most `max_in_flight` messages per sink) and the other outcomes
in one transaction. Human sinks go through the noise controls first (`listener.noise`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.base import Sink
from listener.backoff import delay_for_attempt
from listener.clock import Clock
from listener.errors import SinkError
from listener.events import Delivery, Event, EventKind
from listener.noise import Alert, Digest, Mute, NoiseDecision, NoiseSettings, NoiseState, apply_noise_controls
from listener.redact import redact
from listener.store import Claim, Outcomes, Store, SyncStore

logger = logging.getLogger(__name__)

# Updates of a message already sent (answered, someone pressed a button) are never noise:
# they pass cooldowns, quiet hours and the rate limit (mutes still apply).
UPDATE_KINDS = frozenset({EventKind.REPLIED, EventKind.ACTION, EventKind.MENTION})


def _log_failure(future: asyncio.Future[int]) -> None:
    """A kicked pass has no caller waiting for it: its unexpected errors are logged here."""
    if future.cancelled() or (err := future.exception()) is None:
        return
    if isinstance(err, sqlite3.Error):
        # The daemon's dispatch job reports a failing database once per incident (listener.faults).
        logger.debug("dispatch pass failed: %s", err)
    else:
        logger.error("dispatch pass failed", exc_info=err)


def mute_reason(event: Event, mutes: Sequence[Mute], now: datetime) -> str | None:
    """Why `event` is muted for humans (a muted source, else a muted brand; the first such mute), or None."""
    covering = [m for m in mutes if m.covers_event(event, now)]
    found = next((m for m in covering if m.source), None) or next(iter(covering), None)
    return found.reason() if found is not None else None


def noise_active(settings: NoiseSettings) -> bool:
    """Whether any control beyond mutes is configured (otherwise delivery skips the bookkeeping)."""
    return bool(settings.cooldowns or settings.max_per_channel or settings.quiet_hours)


@dataclass(slots=True)
class DispatchStats:
    """Counters for the shutdown summary and metrics."""

    delivered: int = 0
    failures: int = 0
    suppressed: int = 0
    held: int = 0
    digests: int = 0


class _SentWriter:
    """Records what a sink accepted before the send slot is released, coalescing concurrent records.

    A crash can repeat only what was sent and not yet recorded. Holding the slot until the record
    commits bounds that to `max_in_flight` messages per sink per crash (one by default), while
    sends finishing together still share one transaction.
    """

    def __init__(self, store: Store, sink: str, clock: Clock) -> None:
        self._store = store
        self._sink = sink
        self._clock = clock
        self._pending: list[tuple[Outcomes, asyncio.Future[None]]] = []
        self._flushing = False

    async def record(self, outcomes: Outcomes) -> None:
        """Return once `outcomes` (deliveries and digests that landed) are committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((outcomes, future))
        if not self._flushing:
            self._flushing = True
            try:
                while self._pending:
                    batch, self._pending = self._pending, []
                    merged = Outcomes(
                        delivered=[d for o, _ in batch for d in o.delivered],
                        digests=[g for o, _ in batch for g in o.digests],
                    )
                    try:
                        await self._store.call(SyncStore.record_outcomes, self._sink, merged, self._clock.now())
                    except Exception as err:
                        for _, waiting in batch:
                            if not waiting.done():
                                waiting.set_exception(err)
                    else:
                        for _, waiting in batch:
                            if not waiting.done():
                                waiting.set_result(None)
            finally:
                self._flushing = False
                for _, waiting in self._pending:  # the flusher was cancelled: nobody records these now
                    waiting.cancel()
                self._pending = []
        await future


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
        batch: int = 500,
        concurrency: int = 1,
        mute_brands: Iterable[str] = (),
        mute_sources: Iterable[str] = (),
        noise: NoiseSettings | None = None,
    ) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.clock = clock
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self.noise = noise or NoiseSettings()
        self.stats = DispatchStats()
        # Standing mutes from the config (no expiry); timed ones (`listener mute`) are read from the store each pass.
        self._standing = [*(Mute(source=src) for src in (*mute_sources, *self.noise.mute_sources)),
                          *(Mute(brand=b) for b in (*mute_brands, *self.noise.mute_brands))]
        self._lookback = max([self.noise.rate_window, *self.noise.cooldowns.values()], default=timedelta(0))
        self._down: set[str] = set()
        self._lock = asyncio.Lock()
        self._queued: asyncio.Future[int] | None = None

    def route(self, event: Event) -> list[str]:
        """Names of the sinks that want `event` (the store creates one delivery row per name)."""
        return [name for name, sink in self.sinks.items() if sink.accepts(event)]

    async def dispatch_once(self) -> int:
        """Deliver everything that is due now; return how many deliveries the pass that did it made.

        Passes never overlap. A call made while one runs joins the pass queued behind it (or
        queues one): that pass starts after the call, so it sees everything due at the call.
        """
        return await asyncio.shield(self._queue_pass())

    def kick(self) -> None:
        """Have a pass start soon, without waiting for it (new events were queued).

        Kicks coalesce: at most one pass runs and one waits, however many events arrive, and
        no kick is ever lost (the waiting pass starts after the kick).
        """
        self._queue_pass()

    def _queue_pass(self) -> asyncio.Future[int]:
        if self._queued is None or self._queued.done():
            self._queued = asyncio.ensure_future(self._locked_pass())
            self._queued.add_done_callback(_log_failure)
        return self._queued

    async def _locked_pass(self) -> int:
        async with self._lock:
            self._queued = None  # from here on this pass may already have claimed: later calls queue anew
            counts = await asyncio.gather(*(self._drain_sink(name) for name in self.sinks))
        return sum(counts)

    def _in_flight(self, name: str, sink: Sink) -> int:
        """How many sends of `sink` may be in flight at once (a sink may ask for fewer).

        A sink that is failing gets one request at a time until one lands again, so a 429's
        Retry-After is honoured by everything that follows it.
        """
        if name in self._down:
            return 1
        wanted = sink.max_in_flight
        return max(1, min(self.concurrency, wanted)) if wanted is not None else self.concurrency

    @staticmethod
    def _for_people(sink: Sink) -> bool:
        """Whether mutes and noise controls apply: not for a machine consumer (MQTT) that wants every event."""
        return sink.noise_controls

    def _alert(self, name: str, sink: Sink, item: Delivery) -> Alert | Delivery:
        """A delivery to people as an alert through its channel; a machine sink's delivery stays as it is."""
        if not self._for_people(sink):
            return item
        if item.event.kind in UPDATE_KINDS:  # edits a message already counted: no channel, so no slot used
            return Alert(item)
        return Alert(item, str(sink.channel_for(item.event) or name))

    async def _drain_sink(self, name: str) -> int:
        sink = self.sinks[name]
        human = self._for_people(sink)
        noisy = human and noise_active(self.noise)
        delivered = 0
        while True:
            now = self.clock.now()
            # Held alerts are always read for people: a restart without quiet hours still releases them.
            claim: Claim = await self.store.call(SyncStore.claim_deliveries,
                name, now, self.batch, mutes=human, held=human, history_since=now - self._lookback if noisy else None)
            if not claim.items and not any(h.until <= now for h in claim.held):
                return delivered
            out = Outcomes()
            # A mute set with `listener mute` is named before a standing one (its reason says until when).
            mutes = [*claim.mutes, *self._standing] if human else []
            to_send: list[Delivery] = []
            for item in claim.items:
                reason = mute_reason(item.event, mutes, now) if mutes else None
                if reason is not None:
                    # Recorded with its reason rather than dropped: `listener alerts stats` counts it.
                    out.suppressed.append((self._alert(name, sink, item), reason))
                    continue
                to_send.append(item)
            digests: list[Digest] = []
            if noisy or claim.held:
                to_send, digests = self._noise(name, sink, to_send, claim, mutes, now, out)
            writer = _SentWriter(self.store, name, self.clock)
            stopped = await self._send(name, sink, to_send, claim.refs, out, writer)
            if not stopped:
                stopped = await self._send_digests(name, sink, digests, out, writer)
            # What landed is recorded already (each before its slot was freed); the rest goes in one go.
            rest = Outcomes(failed=out.failed, suppressed=out.suppressed, held=out.held)
            if len(rest):
                await self.store.call(SyncStore.record_outcomes, name, rest, self.clock.now())
            delivered += len(out.delivered)
            self.stats.delivered += len(out.delivered)
            self.stats.suppressed += len(out.suppressed)
            self.stats.held += len(out.held)
            if out.delivered or out.digests:
                self._recovered(name)
            if stopped or len(claim.items) < self.batch:
                return delivered

    def _noise(
        self, name: str, sink: Sink, items: Sequence[Delivery], claim: Claim, mutes: Sequence[Mute],
        now: datetime, out: Outcomes,
    ) -> tuple[list[Delivery], list[Digest]]:
        """Cooldowns, quiet hours and the rate limit over one batch (plus the alerts held earlier)."""
        candidates: list[Alert] = []
        passthrough: set[int] = set()
        for item in items:
            if item.event.kind in UPDATE_KINDS:
                passthrough.add(item.event_seq)
                continue
            alert = self._alert(name, sink, item)
            assert isinstance(alert, Alert)  # the noise controls run for people only
            candidates.append(alert)
        state = NoiseState(held=tuple(claim.held), mutes=tuple(mutes))
        decision: NoiseDecision = apply_noise_controls(candidates, claim.history, state, now, self.noise)

        was_held = {h.alert.id: (h.until, h.reason) for h in claim.held}
        for dropped in decision.dropped:
            out.suppressed.append((dropped.alert, f"{dropped.reason} ({dropped.alert.rule})"))
        for hold in decision.hold:
            if was_held.get(hold.alert.id) == (hold.until, hold.reason):
                continue  # still waiting as recorded
            out.held.append(hold)
        send_ids = {a.id for a in decision.send}
        to_send = [i for i in items if i.event_seq in passthrough or i.event.id in send_ids]
        return to_send, list(decision.digests)

    async def _send(
        self, name: str, sink: Sink, items: Sequence[Delivery], refs: Mapping[str, str], out: Outcomes,
        writer: _SentWriter,
    ) -> bool:
        """Send `items`: each thread in order, threads side by side; True when a failure stopped the pass."""
        if not items:
            return False
        chains: dict[str, list[Delivery]] = {}
        for item in items:
            chains.setdefault(item.event.thread, []).append(item)
        limit = self._in_flight(name, sink)
        gate = asyncio.Semaphore(limit)
        failed = False

        async def run(thread: str, chain: list[Delivery]) -> None:
            nonlocal failed
            previous = refs.get(thread)
            for item in chain:
                async with gate:
                    if failed:
                        return  # a failing sink gets no more work this pass; the rest waits in order
                    try:
                        ref = await sink.send(item.event, previous)
                    except SinkError as err:
                        failed = True
                        out.failed.append(self._failed(name, item, item.attempts + 1, err, err.retry_after))
                        return
                    except Exception as err:  # a sink bug must not lose the event
                        logger.exception("%s: unexpected error delivering %s", name, item.event.id)
                        failed = True
                        out.failed.append(self._failed(name, item, item.attempts + 1, err, None))
                        return
                    landed = (self._alert(name, sink, item), ref)
                    await writer.record(Outcomes(delivered=[landed]))
                out.delivered.append(landed)
                if ref is not None:
                    previous = ref  # the next event of this thread updates what this one posted

        if len(chains) == 1 or limit == 1:
            for thread, chain in chains.items():
                await run(thread, chain)
        else:
            await asyncio.gather(*(run(thread, chain) for thread, chain in chains.items()))
        return failed

    async def _send_digests(
        self, name: str, sink: Sink, digests: Sequence[Digest], out: Outcomes, writer: _SentWriter,
    ) -> bool:
        """One message per digest (a sink without digests of its own gets the alerts one by one)."""
        for digest in digests:
            events = [alert.event for alert in digest.alerts]
            try:
                ref = await sink.send_digest(digest.channel, events, digest.reasons, digest.id)
            except Exception as err:
                if not isinstance(err, SinkError):
                    logger.exception("%s: unexpected error delivering digest %s", name, digest.id)
                retry_after = err.retry_after if isinstance(err, SinkError) else None
                attempts = max(alert.delivery.attempts for alert in digest.alerts) + 1
                _, message, retry_at = self._failed(name, digest.alerts[0].delivery, attempts, err, retry_after)
                out.failed.extend((alert.delivery, message, retry_at) for alert in digest.alerts)
                return True
            await writer.record(Outcomes(digests=[(digest, ref)]))
            self.stats.digests += 1
            out.digests.append((digest, ref))
        return False

    def _recovered(self, name: str) -> None:
        if name in self._down:
            self._down.discard(name)
            logger.info("%s: delivering again", name)

    def _failed(
        self, name: str, item: Delivery, attempts: int, err: Exception, retry_after: float | None
    ) -> tuple[Delivery, str, datetime]:
        self.stats.failures += 1
        delay = retry_after if retry_after is not None else delay_for_attempt(attempts, self.retry_base, self.retry_max)
        retry_at = self.clock.now() + timedelta(seconds=delay)
        message = redact(f"{type(err).__name__}: {err}")
        if name not in self._down:
            logger.warning("%s: delivery failed (%s); the outbox keeps the event, retry in %.1fs", name, message, delay)
            self._down.add(name)
        return item, message, retry_at

    async def close(self) -> None:
        """Close every sink."""
        for name, sink in self.sinks.items():
            try:
                await sink.close()
            except Exception:
                logger.exception("%s: error while closing", name)

