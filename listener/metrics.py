"""Prometheus metrics read from the live daemon at scrape time, and the GET /metrics handler."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry


@dataclass(slots=True)
class StoreSnapshot:
    """Numbers that live in the database, fetched (async) just before each scrape."""

    counts: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)


class DaemonCollector(Collector):
    """Reads the daemon's counters when Prometheus scrapes; nothing is double-counted or kept."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.snapshot = StoreSnapshot()

    async def refresh(self) -> None:
        """Fetch the database-backed numbers (the store is async; `collect` cannot await)."""
        from listener.store import SyncStore

        store = self.daemon.store
        self.snapshot = StoreSnapshot(counts=await store.call(SyncStore.counts),
                                      outbox=await store.call(SyncStore.outbox_counts))

    def collect(self) -> Iterator[Any]:
        """Every metric family, built from the daemon as it is now."""
        yield from self._sources()
        yield from self._classifier()
        yield from self._complaints()
        yield from self._delivery()

    def _sources(self) -> Iterator[Any]:
        mentions = CounterMetricFamily("listener_mentions", "New mentions stored, by source.", labels=["source"])
        polls = CounterMetricFamily("listener_polls", "Polls run, by source.", labels=["source"])
        failures = CounterMetricFamily("listener_poll_failures", "Failed polls, by source.", labels=["source"])
        up = GaugeMetricFamily("listener_source_up", "1 while the source's last poll succeeded.", labels=["source"])
        for poller in self.daemon.pollers:
            mentions.add_metric([poller.name], poller.stats.new_mentions)
            polls.add_metric([poller.name], poller.stats.polls)
            failures.add_metric([poller.name], poller.stats.failures)
            up.add_metric([poller.name], 1.0 if poller.up else 0.0)
        yield from (mentions, polls, failures, up)

    def _classifier(self) -> Iterator[Any]:
        yield GaugeMetricFamily(
            "listener_queue_depth", "Mentions waiting to be classified.", value=self.daemon.queue.qsize()
        )
        stage = self.daemon.stage
        if stage is None:
            return
        stats = stage.stats
        # The stage keeps a batch count and total seconds: a Summary without quantiles carries both.
        yield SummaryMetricFamily(
            "listener_classify_batch_seconds",
            "Seconds spent in Classifier.predict per batch.",
            count_value=stats.batches,
            sum_value=stats.seconds,
        )
        yield CounterMetricFamily("listener_classified", "Mentions classified.", value=stats.classified)
        yield CounterMetricFamily(
            "listener_classify_errors", "Batches whose classification failed.", value=stats.errors
        )

    def _complaints(self) -> Iterator[Any]:
        counts = self.snapshot.counts
        yield GaugeMetricFamily(
            "listener_open_complaints", "Complaints waiting for a reply.", value=counts.get("open", 0)
        )
        yield GaugeMetricFamily(
            "listener_breached_complaints",
            "Complaints that missed their response target.",
            value=counts.get("breached", 0),
        )
        yield GaugeMetricFamily("listener_complaints", "Complaints ever opened.", value=counts.get("complaints", 0))

    def _delivery(self) -> Iterator[Any]:
        dispatcher = self.daemon.dispatcher
        if dispatcher is not None:
            yield CounterMetricFamily(
                "listener_deliveries", "Alerts delivered to a sink.", value=dispatcher.stats.delivered
            )
            yield CounterMetricFamily(
                "listener_delivery_failures",
                "Failed delivery attempts (retried from the outbox).",
                value=dispatcher.stats.failures,
            )
        outbox = GaugeMetricFamily("listener_outbox", "Deliveries in the outbox, by state.", labels=["state"])
        for state, count in sorted(self.snapshot.outbox.items()):
            outbox.add_metric([str(state)], count)
        yield outbox


def metrics_handler(daemon: Any) -> Any:
    """An aiohttp handler for GET /metrics serving the daemon's metrics in Prometheus text format."""
    collector = DaemonCollector(daemon)
    # A private registry: the process-wide default would mix in other daemons (tests run several).
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    async def handle(_request: web.Request) -> web.Response:
        await collector.refresh()
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle
