"""The daemon's lifecycle: wire the stages, schedule them with APScheduler, drain on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerts.base import Sink
from config.schema import Settings
from connectors.base import BrandView, Connector
from connectors.registry import connector_class
from listener import USER_AGENT
from listener.classify import ClassifyStage
from listener.clock import Clock, SystemClock
from listener.clocks import ClockEngine
from listener.dispatch import Dispatcher
from listener.events import Event
from listener.faults import JobFaults, is_store_error
from listener.health import save_faults
from listener.listening import ListeningJob
from listener.poller import SourcePoller
from listener.store import Store, SyncStore
from models.base import Classifier

logger = logging.getLogger(__name__)


class _SchedulerNoiseFilter(logging.Filter):
    """Drop APScheduler's notes that say nothing an operator can act on.

    The dispatch, sweep and listening jobs are periodic catch-up passes: a run that finds the last
    one busy has nothing to add, and under load the warning would flood the log once per interval.
    A job cancelled by the scheduler's shutdown (SIGTERM in the first seconds) is a clean stop, not
    an error with a traceback. Every job reports its own failures (listener.faults).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record except the overlap skip notice and cancellations at shutdown."""
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        return "maximum number of running instances reached" not in str(record.msg)


_scheduler_filter = _SchedulerNoiseFilter()
for _name in ("apscheduler.scheduler", "apscheduler.executors.default"):
    logging.getLogger(_name).addFilter(_scheduler_filter)

@dataclass(slots=True)
class RunSummary:
    """What one run did, for the closing log line and for tests."""

    polls: int = 0
    poll_failures: int = 0
    new_mentions: int = 0
    classified: int = 0
    complaints: int = 0
    alerts_queued: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    seconds: float = 0.0
    outbox: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """One human line."""
        pending = self.outbox.get("pending", 0)
        return (
            f"listener stopped after {self.seconds:.1f}s: {self.polls} polls ({self.poll_failures} failed), "
            f"{self.new_mentions} new mentions, {self.classified} classified, {self.complaints} complaints "
            f"opened, {self.alerts_queued} alerts raised, {self.delivered} deliveries "
            f"({self.delivery_failures} failed attempts, {pending} pending in the outbox)"
        )


def brands_for_source(settings: Settings, source: str) -> list[BrandView]:
    """Brands with only the handles configured for `source`."""
    return [
        BrandView(
            name=name,
            keywords=tuple(spec.keywords),
            exclude=tuple(spec.exclude),
            # Auto-reply accounts are the brand's too: their posts are never customer mentions.
            handles=tuple(spec.handles.get(source, ())) + tuple(spec.bots.get(source, ())),
        )
        for name, spec in settings.brands.items()
    ]


class Daemon:
    """Everything between the connectors and the sinks. Inject parts to test it."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        classifier: Classifier | None = None,
        sinks: Mapping[str, Sink] | None = None,
        connectors: Mapping[str, Connector] | None = None,
        console: Any | None = None,
    ) -> None:
        self.settings = settings
        self.console = console  # rich Console the console sink prints on (the demo's live view)
        self.clock = clock or SystemClock()
        self._classifier = classifier
        self._sinks = sinks
        self._connectors = connectors
        self.store = Store(settings.listener.database)
        self.summary = RunSummary()
        self.stop_event = asyncio.Event()
        self.started = asyncio.Event()
        self.pollers: list[SourcePoller] = []
        self._poll_tasks: set[asyncio.Task[object]] = set()
        self._queueing: set[asyncio.Task[None]] = set()  # classify_later's waits for room in the queue
        self.stage: ClassifyStage | None = None
        self.dispatcher: Dispatcher | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.session: aiohttp.ClientSession | None = None
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.classifier.queue_size)
        self._next_due_cache: datetime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.web_port: int | None = None
        self.listening: ListeningJob | None = None
        self.faults = JobFaults(self.clock)
        self._faults_saved = -1  # the first job run clears what a previous process left behind

    # -- assembly -------------------------------------------------------------------------

    async def _build(self, stack: contextlib.AsyncExitStack) -> None:
        s = self.settings
        await self.store.open()
        stack.push_async_callback(self.store.close)
        # A read-only file or mount fails here, before "listener running": the CLI exits with one line.
        await self.store.call(SyncStore.beat, "daemon", self.clock.now())
        await self.store.call(SyncStore.set_competitors, [n for n, b in s.brands.items() if b.competitor])
        await self.store.call(SyncStore.set_engine, ClockEngine.from_settings(s.sla))
        bots: dict[str, Sequence[str]] = {}
        for spec in s.brands.values():
            for source, handles in spec.bots.items():
                bots[source] = [*bots.get(source, ()), *handles]
        await self.store.call(SyncStore.set_bots, bots)
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60, sock_connect=10),
            headers={"User-Agent": USER_AGENT},
        )
        stack.push_async_callback(self.session.close)

        sinks = dict(self._sinks) if self._sinks is not None else self._build_sinks()
        self.dispatcher = Dispatcher(
            self.store,
            sinks,
            self.clock,
            retry_base=s.alerts.retry_base.total_seconds(),
            retry_max=s.alerts.retry_max.total_seconds(),
            concurrency=s.alerts.max_in_flight,
            noise=s.alerts.noise,
        )
        stack.push_async_callback(self.dispatcher.close)
        if s.alerts.listening.enabled:
            self.listening = ListeningJob(
                self.store, s.alerts.listening, self.clock, self.route, policies=s.sla.policies
            )

        classifier = self._classifier
        if classifier is None:
            classifier = await asyncio.to_thread(self._load_classifier)
        self.stage = _RetryingClassifyStage(
            classifier,
            self.store,
            self.queue,
            self.clock,
            self.route,
            batch_size=s.classifier.batch_size,
            max_wait=s.classifier.max_wait.total_seconds(),
            max_batch=s.classifier.max_batch,
            on_opened=lambda _keys: self._schedule_sweep(soon=True),
        )
        stack.callback(self.stage.close)
        if self._loop is not None:  # forever mode: a batch the store refuses waits for the store
            self.stage.attempt, self.stage.faults = self._attempt, self.faults

        connectors = dict(self._connectors) if self._connectors is not None else self._build_connectors()
        for name, connector in connectors.items():
            config = (
                s.connectors.get(name)
                or getattr(connector, "config", None)
                or type(connector).Config.model_validate({"type": name})
            )
            if not config.enabled:
                continue
            self.pollers.append(
                SourcePoller(name, connector, config, self.store, self._enqueue, self.clock, self.route)
            )

    def route(self, event: Event) -> list[str]:
        """Sinks for a new outbox event; also wakes the dispatcher so it leaves at once.

        Called on the store thread inside the transaction that queues the event; the
        dispatch it schedules reads the outbox through the same thread, after the commit.
        """
        assert self.dispatcher is not None
        names = self.dispatcher.route(event)
        if names and self._loop is not None and self.scheduler is not None:
            self._loop.call_soon_threadsafe(self._kick_dispatch)
        return names

    def _kick_dispatch(self) -> None:
        if self.dispatcher is None or self.stop_event.is_set() or not self.faults.ready("alerts:dispatch"):
            return  # after a failed pass the dispatch job retries when its backoff ends
        # The dispatcher coalesces kicks (one pass running, one waiting) and never loses one; a
        # scheduler job per kick could be skipped at max_instances and leave alerts to the interval.
        self.dispatcher.kick()

    def _build_sinks(self) -> dict[str, Sink]:
        from alerts import build_sinks

        assert self.session is not None
        sinks = build_sinks(self.settings.alerts, self.session, clock=self.clock, console=self.console)
        return {sink.name: sink for sink in sinks}

    def _load_classifier(self) -> Classifier:
        from models.loader import load_classifier

        return load_classifier(self.settings.classifier)

    def _build_connectors(self) -> dict[str, Connector]:
        assert self.session is not None
        built: dict[str, Connector] = {}
        for name, config in self.settings.connectors.items():
            if not config.enabled:
                continue
            cls = connector_class(config.type)
            built[name] = cls(name, config, brands_for_source(self.settings, name), self.session, clock=self.clock)
        return built

    async def _enqueue(self, keys: Sequence[str]) -> None:
        for key in keys:
            await self.queue.put(key)  # bounded: a slow model slows the pollers down

    def classify_later(self, keys: Sequence[str]) -> None:
        """Queue these stored mention keys for the classifier without making the caller wait.

        For callers that must answer at once (Meta's webhooks): when the bounded queue is full the
        keys wait for room in the background. Keys still waiting at shutdown stay unclassified in
        the database and are re-queued at the next start, so none is lost.
        """
        if not keys or self.stop_event.is_set():
            return  # stored already; a stopping daemon leaves them to the next start's re-queue
        task = asyncio.create_task(self._enqueue(list(keys)), name="classify-later")
        self._queueing.add(task)
        task.add_done_callback(self._queueing.discard)

    async def _requeue_unclassified(self) -> int:
        keys = await self.store.call(SyncStore.unclassified_keys)
        if keys:
            logger.info("re-queueing %d mentions that were stored but not classified", len(keys))
        await self._enqueue(keys)
        return len(keys)

    # -- burst mode -----------------------------------------------------------------------

    async def run_once(self) -> RunSummary:
        """One pass of every stage: poll all sources, classify, sweep clocks, deliver."""
        started = time.perf_counter()
        async with contextlib.AsyncExitStack() as stack:
            await self._build(stack)
            assert self.stage is not None
            requeue = asyncio.create_task(self._requeue_unclassified())
            drainer = asyncio.create_task(self._drain_while(requeue))
            await requeue
            await drainer
            for poller in self.pollers:
                await poller.run_once()
                await self.stage.drain()
            await self.sweep()
            await self.dispatch()
            await self._finish(started)
        return self.summary

    async def _drain_while(self, producer: asyncio.Task[Any]) -> None:
        assert self.stage is not None
        while not producer.done() or not self.queue.empty():
            await self.stage.drain()
            await asyncio.sleep(0)

    # -- forever --------------------------------------------------------------------------

    async def run(self, *, install_signals: bool = True) -> RunSummary:
        """Run until SIGINT/SIGTERM or `stop()`, then drain gracefully."""
        started = time.perf_counter()
        loop = self._loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.stop)
        try:
            async with contextlib.AsyncExitStack() as stack:
                await self._build(stack)
                assert self.stage is not None
                await self._start_web(stack)
                classify_task = asyncio.create_task(self.stage.run(), name="classifier")
                requeue_task = asyncio.create_task(self._requeue_unclassified(), name="requeue")
                self._start_scheduler()
                self.started.set()
                logger.info(
                    "listener running: %d sources, %d sinks, database %s",
                    len(self.pollers),
                    len(self.dispatcher.sinks) if self.dispatcher else 0,
                    self.settings.listener.database,
                )
                await self.stop_event.wait()
                await self._shutdown(classify_task, requeue_task)
                await self._finish(started)
        finally:
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.remove_signal_handler(sig)
        return self.summary

    async def _start_web(self, stack: contextlib.AsyncExitStack) -> None:
        """Serve the REST API and dashboard (and Slack's interactivity endpoint) when configured."""
        from listener.web import start_web

        runner = await start_web(self)
        if runner is not None:
            stack.push_async_callback(runner.cleanup)

    def stop(self) -> None:
        """Ask the daemon to stop (signal-safe)."""
        self.stop_event.set()

    def _start_scheduler(self) -> None:
        s = self.settings
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        for index, poller in enumerate(self.pollers):
            # Stagger the first polls so sources don't all fire in the same instant.
            first = now + timedelta(seconds=min(index * 0.2, 5) + poller.jittered(0))
            self.scheduler.add_job(
                self._poll_job, "date", run_date=first, args=[poller], id=f"poll:{poller.name}",
                misfire_grace_time=None,
            )
        self.scheduler.add_job(
            self._sweep_job, "date", run_date=now, id="sla:sweep", misfire_grace_time=None, max_instances=3
        )
        self.scheduler.add_job(
            self._dispatch_job, "interval", seconds=s.alerts.dispatch_interval.total_seconds(), id="alerts:dispatch",
            next_run_time=now, max_instances=1, coalesce=True, misfire_grace_time=None,
        )
        if self.listening is not None:
            self.scheduler.add_job(
                self._listen_job, "interval", seconds=s.alerts.listening.interval.total_seconds(),
                id="alerts:listening",
                next_run_time=now, max_instances=1, coalesce=True, misfire_grace_time=None,
            )
        self.scheduler.start()

    # -- the periodic jobs: each one reschedules itself whatever happens --------------------

    async def _attempt(self, job: str, run: Callable[[], Awaitable[object]]) -> float | None:
        """Run one pass of `job`: None when it worked, else the backoff delay (seconds) before the next.

        Failures are counted in `self.faults` (one log line per incident) and stored for
        `listener health`; a cancellation is passed on.
        """
        try:
            await run()
        except Exception as err:
            delay = self.faults.failed(job, err)
            await self._save_faults()
            return delay
        self.faults.succeeded(job)
        await self._save_faults()
        return None

    async def _save_faults(self) -> None:
        """Store the failing jobs for `listener health`, when that changed (best effort: the disk may be full)."""
        version = self.faults.version
        if version == self._faults_saved:
            return
        try:
            await self.store.call(save_faults, list(self.faults.faults.values()))
        except Exception as err:  # heartbeats go stale instead, and `listener health` says so
            logger.debug("could not store the failing jobs: %s", err)
            return
        self._faults_saved = version

    async def _scheduled(self, job: str, run: Callable[[], Awaitable[object]]) -> float | None:
        """`_attempt` for a scheduler job; a cancellation at shutdown is a clean stop (None)."""
        try:
            return await self._attempt(job, run)
        except asyncio.CancelledError:
            if self.stop_event.is_set():
                return None
            raise

    async def _poll_job(self, poller: SourcePoller) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._poll_tasks.add(task)
        delay = poller.interval

        async def poll() -> None:
            nonlocal delay
            delay = await poller.run_once()

        try:
            # Shutdown may cancel a poll blocked on the full queue: what it stored stays in the
            # database (re-queued at the next start) and the cursor only covers stored pages.
            backoff = await self._scheduled(f"poll:{poller.name}", poll)
        finally:
            if task is not None:
                self._poll_tasks.discard(task)
        if self.stop_event.is_set() or self.scheduler is None:
            return
        delay = backoff if backoff is not None else poller.jittered(delay)
        self.scheduler.add_job(
            self._poll_job, "date", run_date=datetime.now(UTC) + timedelta(seconds=delay), args=[poller],
            id=f"poll:{poller.name}", replace_existing=True, misfire_grace_time=None,
        )

    async def _sweep_job(self) -> None:
        backoff = await self._scheduled("sla:sweep", self.sweep)
        self._schedule_sweep(delay=backoff)

    async def _dispatch_job(self) -> None:
        self._retry_in("alerts:dispatch", await self._scheduled("alerts:dispatch", self.dispatch))

    async def _listen_job(self) -> None:
        self._retry_in("alerts:listening", await self._scheduled("alerts:listening", self.listen))

    def _retry_in(self, job_id: str, backoff: float | None) -> None:
        """After a failed run of an interval job, run it again when the backoff ends (not a whole interval later)."""
        if backoff is None or self.scheduler is None or self.stop_event.is_set():
            return
        with contextlib.suppress(Exception):  # JobLookupError: the scheduler is shutting down
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC) + timedelta(seconds=backoff))

    def _schedule_sweep(self, soon: bool = False, delay: float | None = None) -> None:
        """Plan the next sweep at the earliest pending threshold, or the regular interval (`delay` after a failure)."""
        if self.scheduler is None or self.stop_event.is_set():
            return
        interval = self.settings.sla.sweep_interval.total_seconds()
        run_date = datetime.now(UTC) + timedelta(seconds=0 if soon else interval if delay is None else delay)
        next_due = self._next_due_cache
        if next_due is not None and delay is None:
            # The daemon's clock may differ from the wall clock (tests): translate the offset.
            offset = (next_due - self.clock.now()).total_seconds()
            run_date = min(run_date, datetime.now(UTC) + timedelta(seconds=max(offset, 0)))
        self.scheduler.add_job(
            self._sweep_job, "date", run_date=run_date, id="sla:sweep", replace_existing=True,
            misfire_grace_time=None, max_instances=3,  # a sweep asked for mid-sweep waits, never skips
        )

    async def sweep(self) -> int:
        """Raise warn/breach events for clocks past a threshold; deliver them at once."""
        assert self.dispatcher is not None
        events = await self.store.call(SyncStore.sweep, self.clock.now(), self.route)
        self._next_due_cache = await self.store.call(SyncStore.next_due)
        await self.store.call(SyncStore.beat, "sla", self.clock.now())
        self.summary.alerts_queued += len(events)
        if events and self.scheduler is None:
            # Burst mode delivers here; a running daemon's route() already kicked the dispatcher, and
            # waiting for that delivery would hold up the next sweep (alerts late by a whole drain).
            await self.dispatch()
        return len(events)

    async def listen(self) -> int:
        """Run the listening alerts (spikes, crisis keywords, VIP authors); deliver what they raise."""
        if self.listening is None:
            return 0
        run = await self.listening.run_once()
        await self.store.call(SyncStore.beat, "listening", self.clock.now())
        self.summary.alerts_queued += len(run.sent)
        if run.sent and self.scheduler is None:
            await self.dispatch()  # a running daemon's route() already kicked the dispatcher
        return len(run.sent)

    async def dispatch(self) -> int:
        """Deliver what is due in the outbox."""
        assert self.dispatcher is not None
        delivered = await self.dispatcher.dispatch_once()
        await self.store.call(SyncStore.beat, "alerts", self.clock.now())
        return delivered

    async def _shutdown(self, classify_task: asyncio.Task[None], requeue_task: asyncio.Task[int]) -> None:
        grace = self.settings.listener.shutdown_grace.total_seconds()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        requeue_task.cancel()
        # Polls still running (possibly waiting for room in the queue), and keys that classify_later
        # still holds, stop here, before the classifier and the store go away under them.
        polls = [*self._poll_tasks, *self._queueing]
        for task in polls:
            task.cancel()
        if polls:
            await asyncio.gather(*polls, return_exceptions=True)
        # Let the classifier finish what is queued, within the grace period; the rest stays
        # unclassified in the database and is re-queued at the next start.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), grace)
        classify_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await classify_task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._final_pass(), grace)
        # A pool classifier holds a broker connection and a network thread; local models hold nothing.
        close = getattr(self.stage.classifier if self.stage else None, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(close)

    async def _final_pass(self) -> None:
        try:
            await self.sweep()
            await self.dispatch()
        except Exception as err:
            if not is_store_error(err):
                raise
            # The clocks and the outbox are in the database: the next start sweeps and delivers them.
            logger.warning("final sweep and delivery skipped: the database fails (%s)", err)

    async def _finish(self, started: float) -> None:
        s = self.summary
        s.seconds = time.perf_counter() - started
        s.polls = sum(p.stats.polls for p in self.pollers)
        s.poll_failures = sum(p.stats.failures for p in self.pollers)
        s.new_mentions = sum(p.stats.new_mentions for p in self.pollers)
        if self.stage:
            s.classified = self.stage.stats.classified
            s.complaints = self.stage.stats.complaints
        if self.dispatcher:
            s.delivered = self.dispatcher.stats.delivered
            s.delivery_failures = self.dispatcher.stats.failures
        try:
            s.outbox = await self.store.call(SyncStore.outbox_counts)
        except Exception as err:
            if not is_store_error(err):
                raise
        logger.info("%s", s.line())


class _RetryingClassifyStage(ClassifyStage):
    """A classify stage that holds a batch until the database takes it.

    In forever mode (`attempt` set by the daemon) a full disk delays classification, with the
    jobs' backoff, and never drops a mention; a batch that fails for another reason (a bug) is
    skipped and stays unclassified in the database, re-queued at the next start.
    """

    attempt: Callable[[str, Callable[[], Awaitable[object]]], Awaitable[float | None]] | None = None
    faults: JobFaults | None = None

    async def process(self, keys: Sequence[str]) -> None:
        """Classify and store one batch, retrying while the database fails."""
        if self.attempt is None or self.faults is None:
            await super().process(keys)
            return
        parent = super().process
        while (delay := await self.attempt("classify", lambda: parent(keys))) is not None:
            fault = self.faults.faults.get("classify")
            if fault is None or not fault.store:
                return
            await asyncio.sleep(delay)
