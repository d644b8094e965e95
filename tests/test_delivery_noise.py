"""Noise controls in delivery: cooldowns, a per-channel rate with ONE digest, quiet hours held across a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.base import Event, EventKind
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.events import Policy
from listener.noise import NoiseSettings
from listener.store import Store, SyncStore
from tests.doubles import RecordingSink

# A Monday, 21:00 UTC.
START = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)


class DigestSink(RecordingSink):
    """A human sink that also takes digests, one per call."""

    def __init__(self, name: str = "slack") -> None:
        super().__init__(name)
        self.digests: list[tuple[str, list[str], tuple[str, ...], str]] = []

    def channel_for(self, event: Event) -> str:
        """Alerts of brand "beta" go to their own channel."""
        return "#beta" if event.brand == "beta" else "#alerts"

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """Record the digest."""
        self.digests.append((channel, [e.id for e in events], tuple(reasons), digest_id))
        return f"digest-ref-{len(self.digests)}"


def event(n: int, at: datetime, kind: EventKind = EventKind.BREACH, **extra: Any) -> Event:
    """A breach-like alert for complaint `c<n>`."""
    fields: dict[str, Any] = {"brand": "acme", "source": "social", **extra}
    return Event(id=f"c{n}:{kind.value}", kind=kind, thread=f"c{n}", created_at=at, mention_key=f"c{n}",
                 text=f"complaint {n}", **fields)


def states(db: Path) -> dict[str, tuple[str, str | None]]:
    """event id -> (delivery state, reason) for the slack sink."""
    store = SyncStore(db)
    rows = store.db.execute(
        "SELECT e.id, d.state, d.suppressed FROM deliveries d JOIN events e ON e.seq = d.event_seq "
        "WHERE d.sink = 'slack'"
    ).fetchall()
    store.close()
    return {r[0]: (r[1], r[2]) for r in rows}


async def open_dispatcher(db: Path, clock: FakeClock, noise: dict[str, Any], *sinks: RecordingSink
                          ) -> tuple[Store, Dispatcher]:
    store = await Store(db).open()
    settings = NoiseSettings.model_validate(noise)
    return store, Dispatcher(store, {s.name: s for s in sinks}, clock, noise=settings)


async def test_rate_limit_sends_what_fits_and_rolls_the_rest_into_one_digest(tmp_path: Path) -> None:
    clock = FakeClock(START)
    slack, mqtt = DigestSink(), RecordingSink("mqtt", noise_controls=False)
    store, dispatcher = await open_dispatcher(tmp_path / "d.db", clock, {"max_per_channel": 3, "rate_window": "10m"},
                                              slack, mqtt)
    for n in range(8):
        await store.call(SyncStore.enqueue, event(n, START), dispatcher.route)
    await dispatcher.dispatch_once()
    # Two alerts one by one, the last free slot carries ONE digest of the other six.
    assert [e.id for e, _ in slack.events] == ["c0:breach", "c1:breach"]
    assert len(slack.digests) == 1
    channel, ids, reasons, _ = slack.digests[0]
    assert channel == "#alerts" and reasons == ("rate_limit",)
    assert ids == [f"c{n}:breach" for n in range(2, 8)]
    assert len(mqtt.events) == 8  # machines get every event, unthrottled

    # The window is full: a new alert waits (held) until a slot frees, then goes out as a digest.
    clock.advance(timedelta(minutes=1))
    await store.call(SyncStore.enqueue, event(8, clock.now()), dispatcher.route)
    await dispatcher.dispatch_once()
    assert len(slack.events) == 2 and len(slack.digests) == 1
    assert states(tmp_path / "d.db")["c8:breach"] == ("held", "rate_limit")
    clock.advance(timedelta(minutes=9, seconds=1))
    await dispatcher.dispatch_once()
    assert [d[1] for d in slack.digests[1:]] == [["c8:breach"]]
    rows = states(tmp_path / "d.db")
    assert rows["c0:breach"] == ("delivered", None)
    assert rows["c5:breach"] == ("digested", "rate_limit")
    assert rows["c8:breach"] == ("digested", "rate_limit")
    await store.close()


async def test_updates_of_a_sent_message_are_never_rate_limited(tmp_path: Path) -> None:
    clock = FakeClock(START)
    slack = DigestSink()
    store, dispatcher = await open_dispatcher(tmp_path / "d.db", clock, {"max_per_channel": 1}, slack)
    await store.call(SyncStore.enqueue, event(1, START), dispatcher.route)
    await dispatcher.dispatch_once()
    clock.advance(timedelta(seconds=5))
    replied = event(1, clock.now(), EventKind.REPLIED, policy=Policy(), alerted=True)
    await store.call(SyncStore.enqueue, replied, dispatcher.route)
    await dispatcher.dispatch_once()
    # The reply updates the breach's message (its ref), although the channel's one slot is used.
    assert [(e.id, ref) for e, ref in slack.events] == [("c1:breach", None), ("c1:replied", "ref-1")]
    assert slack.digests == []
    await store.close()


async def test_cooldown_per_rule_and_subject_is_recorded_with_its_reason(tmp_path: Path) -> None:
    clock = FakeClock(START)
    slack = DigestSink()
    db = tmp_path / "d.db"
    store, dispatcher = await open_dispatcher(db, clock, {"cooldowns": {"source": "30m"}}, slack)

    def down(n: int, source: str) -> Event:
        return Event(id=f"{source}:down:{n}", kind=EventKind.SOURCE, brand="", thread=f"source:{source}",
                     created_at=clock.now(), source=source, detail="credentials rejected")

    await store.call(SyncStore.enqueue, down(1, "reddit"), dispatcher.route)
    await dispatcher.dispatch_once()
    clock.advance(timedelta(minutes=10))
    await store.call(SyncStore.enqueue, down(2, "reddit"), dispatcher.route)  # same source inside the cooldown: dropped
    await store.call(SyncStore.enqueue, down(3, "mastodon"), dispatcher.route)  # another subject: sent
    await dispatcher.dispatch_once()
    clock.advance(timedelta(minutes=25))
    await store.call(SyncStore.enqueue, down(4, "reddit"), dispatcher.route)  # 35 minutes after the first: sent
    await dispatcher.dispatch_once()
    assert [e.id for e, _ in slack.events] == ["reddit:down:1", "mastodon:down:3", "reddit:down:4"]
    assert states(db)["reddit:down:2"] == ("suppressed", "cooldown (source)")
    await store.close()


async def test_quiet_hours_hold_alerts_across_a_restart_then_send_one_digest(tmp_path: Path) -> None:
    clock = FakeClock(START)  # Monday 21:00 UTC; quiet from 22:00 to 07:00
    db = tmp_path / "d.db"
    noise = {"quiet_hours": [{"hours": "22:00-07:00", "timezone": "UTC", "exempt_rules": ["sla.escalate"]}]}
    slack = DigestSink()
    store, dispatcher = await open_dispatcher(db, clock, noise, slack)
    await store.call(SyncStore.enqueue, event(0, START), dispatcher.route)
    await dispatcher.dispatch_once()
    assert [e.id for e, _ in slack.events] == ["c0:breach"]  # before the window: sent at once

    clock.set(START + timedelta(hours=2))  # 23:00, quiet
    await store.call(SyncStore.enqueue, event(1, clock.now()), dispatcher.route)
    await store.call(SyncStore.enqueue, event(2, clock.now(), EventKind.WARN), dispatcher.route)
    await store.call(SyncStore.enqueue, event(3, clock.now(), EventKind.ESCALATE), dispatcher.route)  # exempt: goes now
    await dispatcher.dispatch_once()
    assert [e.id for e, _ in slack.events] == ["c0:breach", "c3:escalate"]
    assert states(db)["c1:breach"] == ("held", "quiet_hours")
    await store.close()

    # The daemon restarts during the night: the held alerts are in the store, not in memory.
    slack2 = DigestSink()
    store, dispatcher = await open_dispatcher(db, clock, noise, slack2)
    clock.set(START + timedelta(hours=9, minutes=59))  # 06:59: still quiet
    await dispatcher.dispatch_once()
    assert slack2.events == [] and slack2.digests == []
    clock.set(START + timedelta(hours=10))  # 07:00: the window ended
    await dispatcher.dispatch_once()
    assert slack2.events == []
    assert [(d[0], d[1], d[2]) for d in slack2.digests] == [
        ("#alerts", ["c1:breach", "c2:warn"], ("quiet_hours",))]
    await dispatcher.dispatch_once()  # nothing is sent twice
    assert len(slack2.digests) == 1
    await store.close()
    rows = states(db)
    assert rows["c1:breach"] == ("digested", "quiet_hours") and rows["c2:warn"] == ("digested", "quiet_hours")

    sync = SyncStore(db)
    stats = {r["rule"]: r["suppressed"] for r in sync.alert_stats()}
    sync.close()
    assert stats == {"breach": 1, "escalate": 0, "warn": 1}  # held-then-digested alerts are counted


async def test_a_failed_digest_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    from listener.errors import SinkError

    class Flaky(DigestSink):
        fail = 1

        async def send_digest(self, channel: str, events: Sequence[Event], reasons: Sequence[str],
                              digest_id: str) -> str | None:
            if self.fail:
                self.fail -= 1
                raise SinkError("slack: 500", retry_after=30)
            return await super().send_digest(channel, events, reasons, digest_id)

    clock = FakeClock(START + timedelta(hours=2))
    db = tmp_path / "d.db"
    slack = Flaky()
    store, dispatcher = await open_dispatcher(db, clock, {"quiet_hours": [{"hours": "22:00-07:00"}]}, slack)
    await store.call(SyncStore.enqueue, event(1, clock.now()), dispatcher.route)
    await dispatcher.dispatch_once()
    clock.set(START + timedelta(hours=10))
    await dispatcher.dispatch_once()  # the digest fails: the alert stays held, retried after Retry-After
    assert slack.digests == [] and states(db)["c1:breach"][0] == "held"
    clock.advance(timedelta(seconds=10))
    await dispatcher.dispatch_once()
    assert slack.digests == []
    clock.advance(timedelta(seconds=21))
    await dispatcher.dispatch_once()
    assert [d[1] for d in slack.digests] == [["c1:breach"]]
    await store.close()


async def test_muted_during_quiet_hours_is_dropped_with_a_reason(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(hours=2))
    db = tmp_path / "d.db"
    slack = DigestSink()
    store, dispatcher = await open_dispatcher(db, clock, {"quiet_hours": [{"hours": "22:00-07:00"}]}, slack)
    await store.call(SyncStore.enqueue, event(1, clock.now()), dispatcher.route)
    await dispatcher.dispatch_once()
    await store.call(SyncStore.add_mute, "brand", "acme", START + timedelta(hours=12), "ops", clock.now())
    clock.set(START + timedelta(hours=10))
    await dispatcher.dispatch_once()
    assert slack.digests == [] and slack.events == []
    assert states(db)["c1:breach"] == ("suppressed", "muted (sla.breach)")
    await store.close()


async def test_without_noise_settings_nothing_is_held(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(hours=2))
    slack = DigestSink()
    store, dispatcher = await open_dispatcher(tmp_path / "d.db", clock, {}, slack)
    for n in range(30):
        await store.call(SyncStore.enqueue, event(n, clock.now()), dispatcher.route)
    await dispatcher.dispatch_once()
    assert len(slack.events) == 30 and slack.digests == []
    await store.close()


async def test_held_alerts_are_released_after_a_restart_without_quiet_hours(tmp_path: Path) -> None:
    clock = FakeClock(START + timedelta(hours=2))
    db = tmp_path / "d.db"
    store, dispatcher = await open_dispatcher(db, clock, {"quiet_hours": [{"hours": "22:00-07:00"}]}, DigestSink())
    await store.call(SyncStore.enqueue, event(1, clock.now()), dispatcher.route)
    await dispatcher.dispatch_once()
    await store.close()
    slack = DigestSink()
    store, dispatcher = await open_dispatcher(db, clock, {}, slack)  # quiet hours removed from the config
    await dispatcher.dispatch_once()
    assert slack.digests == []  # held until the end of the window it was held for
    clock.set(START + timedelta(hours=10))
    await dispatcher.dispatch_once()
    assert [d[1] for d in slack.digests] == [["c1:breach"]]
    await store.close()
