"""The escalation ladder: warn, breach, escalation levels, acknowledgement, snooze, stable step ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from listener.sla.calendar import BusinessCalendar, parse_hours
from listener.sla.ladder import ClockState, ScheduledEscalation, StepKind, evaluate

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday
M = timedelta(minutes=1)
H = timedelta(hours=1)


def clock(**kw: object) -> ClockState:
    base: dict[str, object] = {
        "key": "mastodon:1",
        "opened_at": T0,
        "warn_at": T0 + 45 * M,
        "deadline": T0 + 60 * M,
        "escalations": (
            ScheduledEscalation("lead", T0 + 2 * H, ("#leads",)),
            ScheduledEscalation("manager", T0 + 4 * H, ("@manager",)),
        ),
    }
    base.update(kw)
    return ClockState(**base)  # type: ignore[arg-type]


def run(state: ClockState, minutes: list[int]) -> list[tuple[int, list[str]]]:
    """Evaluate at each minute, recording fired and skipped ids like the store would."""
    out = []
    for minute in minutes:
        decision = evaluate(state, T0 + minute * M)
        fired = [s.id for s in decision.fire]
        out.append((minute, fired))
        state = replace(state, fired=state.fired | {s.id for s in decision.fire + decision.skip})
    return out


def test_full_ladder_in_order() -> None:
    assert run(clock(), [10, 45, 50, 60, 119, 120, 240, 500]) == [
        (10, []),
        (45, ["mastodon:1:warn"]),
        (50, []),
        (60, ["mastodon:1:breach"]),
        (119, []),
        (120, ["mastodon:1:escalate:lead"]),
        (240, ["mastodon:1:escalate:manager"]),
        (500, []),
    ]


def test_next_at_points_at_the_next_step() -> None:
    state = clock()
    assert evaluate(state, T0).next_at == T0 + 45 * M
    state = replace(state, fired=frozenset({"mastodon:1:warn"}))
    assert evaluate(state, T0 + 50 * M).next_at == T0 + 60 * M
    everything = frozenset(
        {"mastodon:1:warn", "mastodon:1:breach", "mastodon:1:escalate:lead", "mastodon:1:escalate:manager"}
    )
    assert evaluate(replace(state, fired=everything), T0 + 5 * H).next_at is None


def test_breach_supersedes_a_warning_due_at_the_same_time() -> None:
    decision = evaluate(clock(), T0 + 70 * M)  # e.g. the daemon was down
    assert [s.kind for s in decision.fire] == [StepKind.BREACH]
    assert [s.id for s in decision.skip] == ["mastodon:1:warn"]


def test_replied_clock_has_nothing_left() -> None:
    decision = evaluate(clock(replied=True), T0 + 5 * H)
    assert decision.fire == () and decision.next_at is None


def test_acknowledgement_skips_warn_and_levels_but_not_breach() -> None:
    state = clock(acked_at=T0 + 10 * M)
    assert evaluate(state, T0 + 45 * M).fire == ()
    assert [s.id for s in evaluate(state, T0 + 45 * M).skip] == ["mastodon:1:warn"]
    decision = evaluate(state, T0 + 5 * H)
    assert [s.id for s in decision.fire] == ["mastodon:1:breach"]
    assert {s.id for s in decision.skip} == {
        "mastodon:1:warn",
        "mastodon:1:escalate:lead",
        "mastodon:1:escalate:manager",
    }
    # Suppressed steps do not wake the sweep up.
    assert evaluate(state, T0 + 15 * M).next_at == T0 + 60 * M


def test_acknowledged_but_unanswered_escalates_again_once_per_acknowledgement() -> None:
    acked = T0 + 70 * M
    state = clock(
        acked_at=acked,
        reescalate_after=H,
        reescalate_to=("#leads",),
        fired=frozenset({"mastodon:1:warn", "mastodon:1:breach"}),
    )
    assert evaluate(state, acked + 59 * M).fire == ()
    assert evaluate(state, acked + 59 * M).next_at == acked + H
    decision = evaluate(state, acked + H)
    assert [(s.kind, s.to) for s in decision.fire] == [(StepKind.REESCALATE, ("#leads",))]
    first_id = decision.fire[0].id
    assert first_id == "mastodon:1:reescalate:20260112T101000000000Z"
    state = replace(state, fired=state.fired | {first_id})
    assert evaluate(state, acked + 3 * H).fire == ()
    # A new acknowledgement starts a new wait with a new id.
    again = replace(state, acked_at=acked + 3 * H)
    assert evaluate(again, acked + 4 * H).fire[0].id != first_id


def test_reescalation_counts_business_time_on_the_calendar() -> None:
    office = BusinessCalendar(timezone="UTC", shifts=parse_hours({"mon-fri": "09:00-17:00"}))
    friday_ack = datetime(2026, 1, 16, 16, 30, tzinfo=UTC)
    state = clock(acked_at=friday_ack, reescalate_after=H, fired=frozenset({"mastodon:1:breach"}))
    decision = evaluate(state, datetime(2026, 1, 17, 12, tzinfo=UTC), office)
    assert decision.fire == ()
    assert decision.next_at == datetime(2026, 1, 19, 9, 30, tzinfo=UTC)


def test_snooze_holds_due_steps_until_it_ends() -> None:
    state = clock(snoozed_until=T0 + 90 * M)
    held = evaluate(state, T0 + 70 * M)
    assert held.fire == ()
    assert [s.id for s in held.held_by_snooze] == ["mastodon:1:breach"]
    assert held.next_at == T0 + 90 * M
    after = evaluate(state, T0 + 90 * M)
    assert [s.id for s in after.fire] == ["mastodon:1:breach"]
    # Nothing due yet: the next wake-up is not before the snooze ends.
    assert evaluate(clock(snoozed_until=T0 + 50 * M), T0).next_at == T0 + 50 * M


def test_levels_due_together_all_fire_each_to_its_audience() -> None:
    decision = evaluate(clock(fired=frozenset({"mastodon:1:warn", "mastodon:1:breach"})), T0 + 5 * H)
    assert [(s.level, s.to) for s in decision.fire] == [("lead", ("#leads",)), ("manager", ("@manager",))]


@settings(max_examples=100, deadline=None)
@given(
    times=st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=12),
    ack=st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
)
def test_each_step_fires_at_most_once_and_never_early(times: list[int], ack: int | None) -> None:
    state = clock(acked_at=T0 + ack * M if ack is not None else None, reescalate_after=H)
    seen: list[str] = []
    for minute in sorted(times):
        now = T0 + minute * M
        decision = evaluate(state, now)  # an acknowledgement later than `now` is not yet in force
        for step in decision.fire:
            assert step.at <= now
            assert step.id not in seen
            seen.append(step.id)
        state = replace(state, fired=state.fired | {s.id for s in decision.fire + decision.skip})
    assert seen.count("mastodon:1:breach") <= 1
