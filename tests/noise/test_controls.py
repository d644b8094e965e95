"""Noise controls: mute, snooze, cooldown, quiet hours and the per-channel rate limit with digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from listener.events import Delivery, Event, EventKind
from listener.noise import (
    Alert,
    HeldAlert,
    Mute,
    NoiseDecision,
    NoiseSettings,
    NoiseState,
    QuietHours,
    SentAlert,
    Snooze,
    apply_noise_controls,
)

NOON = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)  # a Monday
M = timedelta(minutes=1)


def alert(n: int, *, rule: str = "spike.volume", channel: str = "#social", at: datetime = NOON,
          brand: str = "", source: str = "", subject: str = "", urgent: bool = False) -> Alert:
    return candidate(f"a{n}", rule=rule, channel=channel, at=at, brand=brand, source=source, subject=subject,
                     urgent=urgent)


def candidate(event_id: str, *, rule: str, channel: str, at: datetime, brand: str = "", source: str = "",
              subject: str = "", urgent: bool = False) -> Alert:
    """An outbox delivery of a typed event through `channel` (no thread: the cooldown subject is `subject`)."""
    event = Event(id=event_id, kind=EventKind.SPIKE, brand=brand, thread="", created_at=at, source=source, rule=rule,
                  subject=subject)
    return Alert(Delivery(0, "slack", 0, event), channel, urgent)


EMPTY = NoiseState()


def decide(candidates, history=(), state=EMPTY, now=NOON, **noise) -> NoiseDecision:
    return apply_noise_controls(candidates, history, state, now, NoiseSettings(**noise))


def ids(items) -> list[str]:
    return [getattr(i, "alert", i).id for i in items]


def test_without_settings_everything_goes_out() -> None:
    decision = decide([alert(1), alert(2)])
    assert ids(decision.send) == ["a1", "a2"]
    assert decision.hold == () and decision.digests == () and decision.dropped == ()


def test_cooldown_per_rule_and_subject() -> None:
    history = [SentAlert("spike.volume", "#social", NOON - 30 * M, subject="acme/x")]
    decision = decide(
        [
            alert(1, subject="acme/x"),
            alert(2, subject="acme/reddit"),
            alert(3, subject="acme/reddit", at=NOON + M),
            alert(4, rule="crisis", subject="acme/x"),
        ],
        history,
        cooldowns={"spike.*": "1h"},
    )
    assert ids(decision.send) == ["a2", "a4"]
    assert [(d.alert.id, d.reason) for d in decision.dropped] == [("a1", "cooldown"), ("a3", "cooldown")]
    # After the cooldown the same subject alerts again.
    later = decide(
        [alert(5, subject="acme/x", at=NOON + 31 * M)], history, now=NOON + 31 * M, cooldowns={"spike.*": "1h"}
    )
    assert ids(later.send) == ["a5"]


def test_exact_cooldown_key_beats_glob() -> None:
    noise = NoiseSettings(cooldowns={"spike.*": "1h", "spike.volume": "5m"})
    assert noise.cooldown("spike.volume") == 5 * M
    assert noise.cooldown("spike.negative_share") == 60 * M
    assert noise.cooldown("sla.breach") == timedelta(0)


def test_mutes_and_snoozes_with_expiry() -> None:
    state = NoiseState(
        mutes=(Mute(source="reddit"), Mute(brand="globex", until=NOON + 10 * M)),
        snoozes=(Snooze(rule="spike.*", brand="acme", until=NOON + 30 * M),),
    )
    candidates = [
        alert(1, source="reddit", brand="initech", rule="crisis"),
        alert(2, brand="globex", rule="crisis"),
        alert(3, brand="acme"),
        alert(4, brand="acme", rule="crisis"),
    ]
    decision = decide(candidates, state=state)
    assert [(d.alert.id, d.reason) for d in decision.dropped] == [("a1", "muted"), ("a2", "muted"), ("a3", "snoozed")]
    assert ids(decision.send) == ["a4"]
    expired = decide([alert(5, brand="globex"), alert(6, brand="acme")], state=state, now=NOON + 31 * M)
    assert ids(expired.send) == ["a5", "a6"]


def test_configured_mutes() -> None:
    decision = decide([alert(1, brand="acme"), alert(2, source="rss")], mute_brands=["acme"], mute_sources=["rss"])
    assert decision.send == () and len(decision.dropped) == 2


def test_rate_limit_rolls_the_excess_into_one_digest() -> None:
    history = [SentAlert("crisis", "#social", NOON - 5 * M)]
    candidates = [alert(n, at=NOON + n * timedelta(seconds=1)) for n in range(1, 7)]
    decision = decide(candidates, history, max_per_channel=4, rate_window="10m")
    # One slot already used, three left: two alerts on their own, one digest with the rest.
    assert ids(decision.send) == ["a1", "a2"]
    (digest,) = decision.digests
    assert digest.channel == "#social" and digest.reasons == ("rate_limit",)
    assert [a.id for a in digest.alerts] == ["a3", "a4", "a5", "a6"]
    assert digest.id == decide(list(reversed(candidates)), history, max_per_channel=4, rate_window="10m").digests[0].id


def test_rate_limit_is_per_channel() -> None:
    candidates = [alert(1), alert(2), alert(3, channel="#other")]
    decision = decide(candidates, max_per_channel=1)
    assert ids(decision.send) == ["a3"]
    # One message allowed on #social: both alerts share it as a digest.
    assert [(d.channel, [a.id for a in d.alerts]) for d in decision.digests] == [("#social", ["a1", "a2"])]


def test_full_window_holds_until_a_slot_frees_then_sends_one_digest() -> None:
    history = [SentAlert("x", "#social", NOON - 8 * M), SentAlert("x", "#social", NOON - 2 * M)]
    first = decide([alert(1), alert(2)], history, max_per_channel=2, rate_window="10m")
    assert first.send == () and first.digests == ()
    assert {h.until for h in first.hold} == {NOON + 2 * M}
    assert first.next_at == NOON + 2 * M
    later = NOON + 2 * M
    second = decide([], history, NoiseState(held=first.hold), now=later, max_per_channel=2, rate_window="10m")
    assert second.send == () and second.hold == ()
    assert [a.id for a in second.digests[0].alerts] == ["a1", "a2"]


def test_urgent_alerts_bypass_rate_limit_and_quiet_hours_but_count() -> None:
    quiet = [{"hours": "00:00-24:00"}]
    decision = decide([alert(1, urgent=True), alert(2)], max_per_channel=1, quiet_hours=quiet)
    assert ids(decision.send) == ["a1"]
    assert [(h.alert.id, h.reason) for h in decision.hold] == [("a2", "quiet_hours")]


def test_quiet_hours_hold_until_the_window_ends_then_release_one_digest() -> None:
    quiet = [{"hours": "22:00-07:00", "timezone": "Europe/London", "exempt_rules": ["sla.breach"]}]
    night = datetime(2026, 1, 12, 23, 30, tzinfo=UTC)
    decision = decide(
        [alert(1, at=night), alert(2, rule="sla.breach", at=night), alert(3, at=night, channel="#ops")],
        now=night,
        quiet_hours=quiet,
    )
    assert ids(decision.send) == ["a2"]
    assert {(h.alert.id, h.until, h.reason) for h in decision.hold} == {
        ("a1", datetime(2026, 1, 13, 7, tzinfo=UTC), "quiet_hours"),
        ("a3", datetime(2026, 1, 13, 7, tzinfo=UTC), "quiet_hours"),
    }
    still_quiet = decide([], state=NoiseState(held=decision.hold), now=night + 60 * M, quiet_hours=quiet)
    assert still_quiet.digests == () and len(still_quiet.hold) == 2
    morning = datetime(2026, 1, 13, 7, tzinfo=UTC)
    released = decide([alert(4, at=morning)], state=NoiseState(held=decision.hold), now=morning, quiet_hours=quiet)
    assert ids(released.send) == ["a4"]
    assert sorted((d.channel, tuple(a.id for a in d.alerts), d.reasons) for d in released.digests) == [
        ("#ops", ("a3",), ("quiet_hours",)),
        ("#social", ("a1",), ("quiet_hours",)),
    ]


def test_quiet_hours_for_some_channels_and_days_only() -> None:
    quiet = [{"hours": "00:00-24:00", "days": "sat,sun", "channels": ["#social"]}]
    saturday = datetime(2026, 1, 17, 12, tzinfo=UTC)
    decision = decide([alert(1, at=saturday), alert(2, at=saturday, channel="#ops")], now=saturday, quiet_hours=quiet)
    assert ids(decision.send) == ["a2"] and ids(decision.hold) == ["a1"]
    assert decision.hold[0].until == datetime(2026, 1, 19, 0, tzinfo=UTC)
    assert ids(decide([alert(3)], quiet_hours=quiet).send) == ["a3"]  # a Monday


def test_muted_while_held_is_dropped_on_release() -> None:
    held = (HeldAlert(alert(1, brand="acme"), NOON - M, "quiet_hours"),)
    decision = decide([], state=NoiseState(held=held, mutes=(Mute(brand="acme"),)))
    assert decision.digests == () and [(d.alert.id, d.reason) for d in decision.dropped] == [("a1", "muted")]


def test_held_alerts_count_for_the_cooldown() -> None:
    held = (HeldAlert(alert(1, subject="acme/x", at=NOON - 5 * M), NOON + 60 * M, "quiet_hours"),)
    decision = decide([alert(2, subject="acme/x")], state=NoiseState(held=held), cooldowns={"spike.*": "1h"})
    assert [(d.alert.id, d.reason) for d in decision.dropped] == [("a2", "cooldown")]
    assert ids(decision.hold) == ["a1"]


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="invalid shift"):
        QuietHours(hours="late")
    with pytest.raises(ValidationError, match="invalid day"):
        QuietHours(hours="22:00-07:00", days="someday")
    with pytest.raises(ValidationError, match="unknown timezone"):
        QuietHours(hours="22:00-07:00", timezone="Atlantis/Capital")
    with pytest.raises(ValidationError):
        NoiseSettings(max_per_channel=0)


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=15),
    limit=st.integers(min_value=1, max_value=4),
)
def test_rate_limit_never_exceeded_and_nothing_lost(batches: list[int], limit: int) -> None:
    """Replay sweeps a minute apart: per 10-minute window at most `limit` messages, and every alert
    is eventually sent, digested or still held."""
    noise = NoiseSettings(max_per_channel=limit, rate_window="10m")
    history: list[SentAlert] = []
    held: tuple[HeldAlert, ...] = ()
    delivered: list[str] = []
    created: list[str] = []
    now = NOON
    for step, count in enumerate(batches + [0] * 30):
        now = NOON + step * M
        batch = [candidate(f"s{step}-{i}", rule="spike.volume", channel="#social", at=now) for i in range(count)]
        created.extend(a.id for a in batch)
        decision = apply_noise_controls(batch, history, NoiseState(held=held), now, noise)
        delivered.extend(a.id for a in decision.send)
        delivered.extend(a.id for d in decision.digests for a in d.alerts)
        history.extend(SentAlert(a.rule, a.channel, now) for a in decision.send)
        history.extend(SentAlert("digest", d.channel, now) for d in decision.digests)
        held = decision.hold
        window = [s for s in history if now - timedelta(minutes=10) < s.at <= now]
        assert len(window) <= limit
    assert sorted(delivered) == sorted(created)
    assert held == ()
