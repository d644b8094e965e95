"""The batched dispatcher: one claim per batch, coalesced writes, threads side by side, each thread in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.base import Event, EventKind
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.errors import SinkError
from listener.noise import Alert, HeldAlert
from listener.store import Outcomes, Store, SyncStore
from tests.doubles import RecordingSink

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KINDS = (EventKind.WARN, EventKind.BREACH, EventKind.ESCALATE)


class SlowSink(RecordingSink):
    """Yields to the loop a different number of times per event, and counts sends in flight."""

    def __init__(self, name: str = "slack") -> None:
        super().__init__(name)
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_on: set[str] = set()

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Record after a few loop turns; fail once for ids in `fail_on`."""
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for _ in range(int(event.thread[1:]) % 5):  # later threads sometimes finish first
                await asyncio.sleep(0)
            if event.id in self.fail_on:
                self.fail_on.discard(event.id)
                raise SinkError("down for a moment", retry_after=10)
            self.events.append((event, previous_ref))
            return f"ref:{event.id}"
        finally:
            self.in_flight -= 1


def events(threads: int) -> list[Event]:
    """Three alerts per thread, queued thread after thread's first alert (interleaved like a sweep)."""
    return [Event(id=f"t{t}:{kind.value}", kind=kind, brand="acme", thread=f"t{t}", created_at=START,
                  source="social", mention_key=f"t{t}") for kind in KINDS for t in range(threads)]


class CountingStore(Store):
    """Counts the store methods called (each one is a hop to the store thread)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[str] = []

    async def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(method.__name__)
        return await super().call(method, *args, **kwargs)


async def test_threads_go_side_by_side_each_in_order_with_the_previous_ref(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "d.db")
    await store.open()
    sink, mqtt = SlowSink(), RecordingSink("mqtt", noise_controls=False)
    dispatcher = Dispatcher(store, {"slack": sink, "mqtt": mqtt}, FakeClock(START), batch=100, concurrency=4)
    for event in events(40):
        await store.call(SyncStore.enqueue, event, dispatcher.route)
    store.calls.clear()
    delivered = await dispatcher.dispatch_once()
    await store.close()

    assert delivered == 240 and len(sink.events) == 120
    assert 1 < sink.most_in_flight <= 4
    for t in range(40):
        sent = [(e.kind, ref) for e, ref in sink.events if e.thread == f"t{t}"]
        assert sent == [(EventKind.WARN, None), (EventKind.BREACH, f"ref:t{t}:warn"),
                        (EventKind.ESCALATE, f"ref:t{t}:breach")]
    # Per sink 120 deliveries: a full batch of 100, then 20 (a short batch ends the pass), each claimed
    # with one call; sends that land together share a write, so there are fewer writes than sends.
    assert store.calls.count("claim_deliveries") == 4
    assert set(store.calls) == {"claim_deliveries", "record_outcomes"}
    assert store.calls.count("record_outcomes") < 240


class UnrecordedWindowSink(SlowSink):
    """Checks, at every send, how many accepted sends the store has not recorded yet."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.worst_unrecorded = 0

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Measure the window a crash would repeat, then send like SlowSink."""
        recorded = (await self.store.call(SyncStore.outbox_counts)).get("delivered", 0)
        # Sends in flight include this one: what a SIGKILL now would send again on restart.
        self.worst_unrecorded = max(self.worst_unrecorded, len(self.events) - recorded + self.in_flight + 1)
        return await super().send(event, previous_ref)


async def test_a_crash_can_repeat_at_most_max_in_flight_sends(tmp_path: Path) -> None:
    for limit in (1, 3):
        store = await Store(tmp_path / f"d{limit}.db").open()
        sink = UnrecordedWindowSink(store)
        dispatcher = Dispatcher(store, {"slack": sink}, FakeClock(START), batch=100, concurrency=limit)
        for event in events(20):
            await store.call(SyncStore.enqueue, event, dispatcher.route)
        assert await dispatcher.dispatch_once() == 60
        await store.close()
        assert 1 <= sink.worst_unrecorded <= limit, (limit, sink.worst_unrecorded)
    assert Dispatcher(store, {}, FakeClock(START)).concurrency == 1  # the default keeps it to one per crash


async def test_refs_of_earlier_passes_come_from_the_store(tmp_path: Path) -> None:
    store = await Store(tmp_path / "d.db").open()
    sink = SlowSink()
    dispatcher = Dispatcher(store, {"slack": sink}, FakeClock(START))
    first, *rest = events(3)[:3], events(3)[3:]
    for event in first:
        await store.call(SyncStore.enqueue, event, dispatcher.route)
    await dispatcher.dispatch_once()
    for event in rest[0]:
        await store.call(SyncStore.enqueue, event, dispatcher.route)
    await dispatcher.dispatch_once()
    await store.close()
    breaches = {e.thread: ref for e, ref in sink.events if e.kind is EventKind.BREACH}
    assert breaches == {f"t{t}": f"ref:t{t}:warn" for t in range(3)}


async def test_a_failure_stops_the_pass_and_nothing_is_lost_or_sent_twice(tmp_path: Path) -> None:
    clock = FakeClock(START)
    db = tmp_path / "d.db"
    store = await Store(db).open()
    sink = SlowSink()
    sink.fail_on = {"t3:breach"}
    dispatcher = Dispatcher(store, {"slack": sink}, clock, concurrency=8)
    for event in events(10):
        await store.call(SyncStore.enqueue, event, dispatcher.route)
    await dispatcher.dispatch_once()
    assert all(e.id != "t3:breach" and e.id != "t3:escalate" for e, _ in sink.events)
    sent_first = len(sink.events)
    assert sent_first < 30
    counts = await store.call(SyncStore.outbox_counts)
    assert counts == {"delivered": sent_first, "pending": 30 - sent_first}

    # Retry-After 10 s: the sink is left alone, including the sends queued before t3's breach that the first
    # pass had not reached when it failed (how many those are depends on thread timing; none may go now).
    clock.advance(timedelta(seconds=5))
    await dispatcher.dispatch_once()
    assert len(sink.events) == sent_first
    clock.advance(timedelta(seconds=6))
    await dispatcher.dispatch_once()
    await store.close()

    # A restarted dispatcher finds nothing left to send.
    store = await Store(db).open()
    again = SlowSink()
    await Dispatcher(store, {"slack": again}, clock).dispatch_once()
    assert await store.call(SyncStore.outbox_counts) == {"delivered": 30}
    await store.close()
    ids = [e.id for e, _ in sink.events]
    assert sorted(ids) == sorted(e.id for e in events(10)) and again.events == []
    t3 = [(e.kind, ref) for e, ref in sink.events if e.thread == "t3"]
    assert t3 == [(EventKind.WARN, None), (EventKind.BREACH, "ref:t3:warn"), (EventKind.ESCALATE, "ref:t3:breach")]


async def test_retry_after_holds_back_events_queued_before_the_failed_one(tmp_path: Path) -> None:
    # One at a time, thread after thread: t0's breach (queued after every warn) fails while the other
    # threads' warns are still unsent. Retry-After is the service's word for every request, not one event's.
    clock = FakeClock(START)
    store = await Store(tmp_path / "d.db").open()
    sink = SlowSink()
    sink.fail_on = {"t0:breach"}
    dispatcher = Dispatcher(store, {"slack": sink}, clock, concurrency=1)
    for event in events(10):
        await store.call(SyncStore.enqueue, event, dispatcher.route)
    await dispatcher.dispatch_once()
    assert [e.id for e, _ in sink.events] == ["t0:warn"]
    assert await store.call(SyncStore.retry_wait, "slack", clock.now()) == START + timedelta(seconds=10)

    clock.advance(timedelta(seconds=9))
    await dispatcher.dispatch_once()
    assert [e.id for e, _ in sink.events] == ["t0:warn"]  # t1..t9's warns wait out the Retry-After too
    clock.advance(timedelta(seconds=1))
    assert await store.call(SyncStore.retry_wait, "slack", clock.now()) is None
    await dispatcher.dispatch_once()
    await store.close()
    ids = [e.id for e, _ in sink.events]
    assert sorted(ids) == sorted(e.id for e in events(10))  # every alert once
    t0 = [(e.kind, ref) for e, ref in sink.events if e.thread == "t0"]
    assert t0 == [(EventKind.WARN, None), (EventKind.BREACH, "ref:t0:warn"), (EventKind.ESCALATE, "ref:t0:breach")]


def test_held_alerts_wait_for_the_sink_s_retry_too(tmp_path: Path) -> None:
    store = SyncStore(tmp_path / "d.db")
    try:
        first, second = events(2)[:2]
        for event in (first, second):
            store.enqueue(event, lambda _e: ["slack"])
        due = store.pending_deliveries("slack", START, 10)
        held = HeldAlert(Alert(due[0], "#alerts"), START, "quiet_hours")
        store.record_outcomes("slack", Outcomes(held=[held]), START)
        store.record_outcomes("slack", Outcomes(failed=[(due[1], "429", START + timedelta(seconds=30))]), START)
        claim = store.claim_deliveries("slack", START + timedelta(seconds=5), 10, held=True)
        assert claim.items == [] and claim.held == []  # the held alert is due, but the sink waits
        claim = store.claim_deliveries("slack", START + timedelta(seconds=30), 10, held=True)
        assert [d.event.id for d in claim.items] == [second.id] and [h.alert.id for h in claim.held] == [held.alert.id]
    finally:
        store.close()


async def test_a_sink_may_ask_for_one_send_at_a_time(tmp_path: Path) -> None:
    store = await Store(tmp_path / "d.db").open()
    sink = SlowSink()
    sink.max_in_flight = 1
    dispatcher = Dispatcher(store, {"slack": sink}, FakeClock(START), concurrency=8)
    queued = events(12)
    for event in queued:
        await store.call(SyncStore.enqueue, event, dispatcher.route)
    await dispatcher.dispatch_once()
    await store.close()
    assert sink.most_in_flight == 1
    # One at a time: threads are walked in the order their first event was queued, each in order.
    assert [e.id for e, _ in sink.events] == [e.id for t in range(12) for e in queued if e.thread == f"t{t}"]


async def test_kicks_coalesce_and_a_kick_during_a_pass_is_never_lost(tmp_path: Path) -> None:
    store = await Store(tmp_path / "d.db").open()
    gate = asyncio.Event()
    passes: list[int] = []

    class GatedSink(RecordingSink):
        async def send(self, event: Event, previous_ref: str | None) -> str | None:
            await gate.wait()  # the first pass is held mid-send
            return await super().send(event, previous_ref)

    sink = GatedSink("slack")
    dispatcher = Dispatcher(store, {"slack": sink}, FakeClock(START))
    real = dispatcher._drain_sink

    async def counted(name: str) -> int:
        passes.append(1)
        return await real(name)

    dispatcher._drain_sink = counted  # type: ignore[method-assign]
    queued = events(2)
    await store.call(SyncStore.enqueue, queued[0], dispatcher.route)
    dispatcher.kick()
    for _ in range(20):  # let the first pass claim and block in send
        await asyncio.sleep(0)
    await store.call(SyncStore.enqueue, queued[1], dispatcher.route)  # queued after the first pass claimed
    for _ in range(50):
        dispatcher.kick()  # fifty kicks while it is blocked: one more pass, not fifty
    gate.set()
    for _ in range(500):  # no dispatch_once here: the kicked passes alone must deliver both
        if len(sink.events) == 2 and dispatcher._queued is None and not dispatcher._lock.locked():
            break
        await asyncio.sleep(0.01)
    await store.close()
    assert [e.id for e, _ in sink.events] == [queued[0].id, queued[1].id]
    assert len(passes) == 2


def test_thread_refs_are_looked_up_from_the_threads_not_the_whole_history(tmp_path: Path) -> None:
    from listener.store import SyncStore

    store = SyncStore(tmp_path / "d.db")
    try:
        for t in range(300):  # a history: every thread's warn delivered with a ref
            event = Event(id=f"t{t}:warn", kind=EventKind.WARN, brand="acme", thread=f"t{t}", created_at=START)
            store.enqueue(event, lambda _e: ["slack"])
        outcomes = Outcomes()
        for d in store.pending_deliveries("slack", START, 1000):
            outcomes.delivered.append((d, f"ref:{d.event.id}"))
        store.record_outcomes("slack", outcomes, START)
        store.db.conn.execute("ANALYZE")  # statistics must not tempt the planner into the history scan
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)
        refs = store.last_refs(["t3", "t7", "nope"], "slack")
        one = store.last_refs(["t5"], "slack")
        store.db.conn.set_trace_callback(None)
        plans = [" | ".join(row[3] for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql))
                 for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    finally:
        store.close()
    assert refs == {"t3": "ref:t3:warn", "t7": "ref:t7:warn"} and one == {"t5": "ref:t5:warn"}
    assert len(plans) == 2
    for plan in plans:
        # The thread index finds the few events; each delivery is then reached by its key.
        assert plan.startswith("SEARCH e USING COVERING INDEX idx_events_thread"), plan
        assert "event_seq=?" in plan, plan
