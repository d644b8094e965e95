"""Micro-batching classifier stage: takes what is queued (up to `max_batch`), else waits briefly; model on a thread.

The model sorts each call's texts by length and cuts its own batches, so one call with a few
hundred mentions runs much faster than the same mentions in calls of 32 in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from listener.clock import Clock
from listener.domain import Mention
from listener.store import SinkRouter, Store, SyncStore
from models.base import Classification, Classifier

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ClassifyStats:
    """Counters for the shutdown summary and metrics."""

    batches: int = 0
    classified: int = 0
    complaints: int = 0
    errors: int = 0
    seconds: float = 0.0


class ClassifyStage:
    """Takes mention keys from a bounded queue and stores their classifications."""

    def __init__(
        self,
        classifier: Classifier,
        store: Store,
        queue: asyncio.Queue[str],
        clock: Clock,
        router: SinkRouter,
        *,
        batch_size: int = 32,
        max_wait: float = 0.05,
        max_batch: int = 256,
        on_opened: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.classifier = classifier
        self.store = store
        self.queue = queue
        self.clock = clock
        self.router = router
        # Below `batch_size` the stage waits up to `max_wait` for more; a backlog is taken at once, up to `max_batch`.
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.max_batch = max(max_batch, batch_size)
        self.on_opened = on_opened
        self.stats = ClassifyStats()
        # torch is never called concurrently: one thread owns the model.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier")

    async def run(self) -> None:
        """Classify forever (cancel to stop); each batch is written before the next is taken."""
        while True:
            batch = [await self.queue.get()]
            self._take_queued(batch)
            deadline = time.monotonic() + self.max_wait
            while len(batch) < self.batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
                self._take_queued(batch)
            try:
                await self.process(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _take_queued(self, batch: list[str]) -> None:
        """Add what is already queued to `batch` without waiting, up to `max_batch` in all."""
        while len(batch) < self.max_batch and not self.queue.empty():
            batch.append(self.queue.get_nowait())

    async def drain(self) -> None:
        """Classify everything queued right now, then return (burst mode and shutdown)."""
        while not self.queue.empty():
            batch: list[str] = []
            self._take_queued(batch)
            try:
                await self.process(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def process(self, keys: Sequence[str]) -> None:
        """Classify and store one batch of mentions (already-stored keys only)."""
        mentions = await self.store.call(SyncStore.get_mentions, list(dict.fromkeys(keys)))
        if not mentions:
            return
        started = time.perf_counter()
        results = await self._predict(mentions)
        self.stats.seconds += time.perf_counter() - started
        opened = await self.store.call(SyncStore.save_classifications,
            list(zip(mentions, results, strict=True)), self.clock.now(), self.router
        )
        await self.store.call(SyncStore.beat, "classify", self.clock.now())
        self.stats.batches += 1
        self.stats.classified += len(mentions)
        self.stats.complaints += len(opened)
        if opened and self.on_opened:
            self.on_opened(opened)

    async def _predict(self, mentions: Sequence[Mention]) -> list[Classification]:
        loop = asyncio.get_running_loop()
        texts = [m.text for m in mentions]
        try:
            return await loop.run_in_executor(self._executor, self.classifier.predict, texts)
        except Exception:
            logger.exception("classifier failed on a batch of %d; retrying one by one", len(texts))
        results = []
        for text in texts:  # isolate the text that breaks the model; never drop the others
            try:
                results.extend(await loop.run_in_executor(self._executor, self.classifier.predict, [text]))
            except Exception as err:
                self.stats.errors += 1
                logger.error("classifier failed on one mention: %s", type(err).__name__)
                results.append(
                    Classification(
                        model_id=self.classifier.model_id, scored=False, unscored_reason="classifier_error"
                    )
                )
        return results

    def close(self) -> None:
        """Stop the model thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
