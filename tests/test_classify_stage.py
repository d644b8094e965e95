"""The classify stage's call pattern: a backlog goes to the model in large calls, a lone mention promptly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from listener.classify import ClassifyStage
from listener.domain import Mention
from models.base import Classification
from tests.doubles import KeywordClassifier

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class _Clock:
    def now(self) -> datetime:
        return NOW


class _MemoryStore:
    """Just the three store calls the stage makes (`Store.call(SyncStore.<method>, ...)`), kept in memory."""

    def __init__(self, mentions: Sequence[Mention]) -> None:
        self.mentions = {m.key: m for m in mentions}
        self.saved: list[str] = []

    async def call(self, method, *args):
        return getattr(self, method.__name__)(*args)

    def get_mentions(self, keys: Sequence[str]) -> list[Mention]:
        return [self.mentions[k] for k in keys if k in self.mentions]

    def save_classifications(
        self, results: Sequence[tuple[Mention, Classification]], now: datetime, router: object
    ) -> list[str]:
        self.saved.extend(m.key for m, _ in results)
        return []

    def beat(self, stage: str, now: datetime) -> None:
        return None


def _mentions(n: int) -> list[Mention]:
    return [Mention(source="t", external_id=str(i), text=f"post {i}", author="a", created_at=NOW) for i in range(n)]


def _stage(store: _MemoryStore, queue: asyncio.Queue[str], model: KeywordClassifier, **kwargs) -> ClassifyStage:
    return ClassifyStage(model, store, queue, _Clock(), router=None, **kwargs)  # type: ignore[arg-type]


async def test_a_backlog_is_passed_to_the_model_in_large_calls() -> None:
    mentions = _mentions(600)
    store, queue, model = _MemoryStore(mentions), asyncio.Queue(), KeywordClassifier()
    for m in mentions:
        queue.put_nowait(m.key)
    stage = _stage(store, queue, model, batch_size=32, max_wait=0.05, max_batch=256)
    task = asyncio.create_task(stage.run())
    try:
        await asyncio.wait_for(queue.join(), 30)
    finally:
        task.cancel()
        stage.close()
    assert [len(c) for c in model.calls] == [256, 256, 88]
    assert store.saved == [m.key for m in mentions]  # nothing lost, arrival order kept in the store


async def test_drain_takes_the_backlog_in_large_calls_too() -> None:
    mentions = _mentions(300)
    store, queue, model = _MemoryStore(mentions), asyncio.Queue(), KeywordClassifier()
    for m in mentions:
        queue.put_nowait(m.key)
    stage = _stage(store, queue, model, batch_size=32, max_batch=200)
    try:
        await stage.drain()
    finally:
        stage.close()
    assert [len(c) for c in model.calls] == [200, 100]
    assert len(store.saved) == 300


async def test_a_single_mention_is_classified_without_waiting_for_more() -> None:
    mentions = _mentions(1)
    store, queue, model = _MemoryStore(mentions), asyncio.Queue(), KeywordClassifier()
    stage = _stage(store, queue, model, batch_size=32, max_wait=0.05, max_batch=256)
    task = asyncio.create_task(stage.run())
    try:
        queue.put_nowait(mentions[0].key)
        # max_wait is 50 ms; a stage that waited for a full batch would never finish here.
        await asyncio.wait_for(queue.join(), 10)
    finally:
        task.cancel()
        stage.close()
    assert model.calls == [["post 0"]]


async def test_mentions_trickling_in_are_gathered_up_to_batch_size_then_sent_at_once() -> None:
    mentions = _mentions(8)
    store, queue, model = _MemoryStore(mentions), asyncio.Queue(), KeywordClassifier()
    stage = _stage(store, queue, model, batch_size=8, max_wait=5.0, max_batch=256)
    task = asyncio.create_task(stage.run())
    try:
        for m in mentions:
            queue.put_nowait(m.key)
            await asyncio.sleep(0.01)
        # Done well inside max_wait (5 s): the stage stops waiting once batch_size has arrived.
        await asyncio.wait_for(queue.join(), 4)
    finally:
        task.cancel()
        stage.close()
    assert model.calls == [[m.text for m in mentions]]
