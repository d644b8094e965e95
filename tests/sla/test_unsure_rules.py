"""The case rules for unsure judgements: timed and shown, never alerted until a person confirms them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from config.loader import ConfigError, parse_config
from listener.clocks import ClockEngine, load_escalations, seconds
from listener.sla.cases import (
    CaseClock,
    CaseHistory,
    CaseRules,
    ClockState,
    Outcome,
    StepKind,
    StoredCase,
    case_outcome,
    decide,
    ladder_changes,
    ladder_state,
    replay,
    replay_ladder,
)
from listener.sla.ladder import evaluate
from tests.sla.test_cases import ENGINE, RULES, T0, act, msg, rep, run


def steps(clock: CaseClock, until_minutes: float) -> list[tuple[float, str]]:
    """The ladder steps the round fires before `until_minutes`, as (minutes after T0, step id)."""
    d = clock.deadline
    state = ladder_state(clock, load_escalations(d.escalations), seconds(d.reescalate_after),
                         tuple(json.loads(d.reescalate_to or "[]")))
    until = clock.closed_at if clock.closed_at is not None else T0 + timedelta(minutes=until_minutes)
    fired = replay_ladder(state, ENGINE.calendar(d.calendar), until, ladder_changes(clock),
                          held_until=clock.held_until)
    return [((at - T0).total_seconds() / 60, step) for at, step, _ in fired]


def test_an_unsure_complaint_is_timed_but_its_outcome_is_unsure_not_a_breach() -> None:
    clock = run(msg("m", 0, unsure=True))
    assert isinstance(clock, CaseClock)
    assert clock.state == "open" and clock.unsure and clock.unconfirmed
    assert clock.deadline.due == T0 + timedelta(minutes=60)  # timed like any complaint
    assert case_outcome(clock, T0 + timedelta(hours=3)) == "unsure"
    assert case_outcome(run(msg("m", 0)), T0 + timedelta(hours=3)) == "breached"  # type: ignore[arg-type]
    assert steps(clock, 600) == []
    assert "unsure" in clock.explain()


def test_the_ladder_fires_nothing_for_an_unsure_clock_and_only_the_breach_once_confirmed() -> None:
    state = ClockState(key="m", opened_at=T0, deadline=T0 + timedelta(minutes=60),
                       warn_at=T0 + timedelta(minutes=45), unsure=True)
    held = evaluate(state, T0 + timedelta(hours=2))
    assert held.fire == () and held.skip == () and held.next_at is None
    confirmed = evaluate(ClockState(key="m", opened_at=T0, deadline=T0 + timedelta(minutes=60),
                                    warn_at=T0 + timedelta(minutes=45)), T0 + timedelta(hours=2))
    assert [s.kind for s in confirmed.fire] == [StepKind.BREACH]  # the warning is superseded
    assert [s.kind for s in confirmed.skip] == [StepKind.WARN]


def test_confirmation_keeps_the_deadline_from_arrival_and_fires_a_past_breach_once_at_confirmation() -> None:
    clock = run(msg("m", 0, unsure=True), act("confirm", 90))
    assert isinstance(clock, CaseClock)
    assert not clock.unconfirmed and clock.confirmed_at == T0 + timedelta(minutes=90)
    assert clock.deadline.due == T0 + timedelta(minutes=60)
    assert case_outcome(clock, T0 + timedelta(hours=3)) == "breached"
    assert steps(clock, 600) == [(90.0, "m:breach")]
    # Confirmed before the warning: the ladder runs as for any complaint.
    early = run(msg("m", 0, unsure=True), act("confirm", 10))
    assert steps(early, 600) == [(45.0, "m:warn"), (60.0, "m:breach")]  # type: ignore[arg-type]


def test_a_label_confirms_from_when_it_was_given() -> None:
    clock = run(msg("m", 0, unsure=True, confirmed_at=T0 + timedelta(minutes=50)))
    assert isinstance(clock, CaseClock)
    assert clock.confirmed_at == T0 + timedelta(minutes=50)
    assert steps(clock, 600) == [(50.0, "m:warn"), (60.0, "m:breach")]


def test_a_confident_complaint_of_the_customer_in_the_same_round_confirms_it() -> None:
    clock = run(msg("m", 0, unsure=True), msg("f", 30))
    assert isinstance(clock, CaseClock)
    assert clock.round == 0 and clock.confirmed_at == T0 + timedelta(minutes=30)
    # Another unsure one does not; praise never does.
    assert run(msg("m", 0, unsure=True), msg("f", 30, unsure=True)).unconfirmed  # type: ignore[attr-defined]
    assert run(msg("m", 0, unsure=True), msg("f", 30, "other")).unconfirmed  # type: ignore[attr-defined]


def test_an_unsure_follow_up_after_the_answer_opens_an_unsure_round() -> None:
    clock = run(msg("m", 0), rep("r", 10), msg("f", 20, unsure=True))
    assert isinstance(clock, CaseClock)
    assert clock.round == 1 and clock.unconfirmed and not clock.earlier[0].unsure


def test_decide_never_announces_an_unsure_late_answer_and_announces_it_once_confirmed() -> None:
    history = CaseHistory((msg("m", 0, unsure=True),), (rep("r", 90),))
    late = decide(history, None, ENGINE, RULES, T0 + timedelta(hours=2))
    assert late.outcome is Outcome.REPLIED_LATE and not late.breach_now
    confirmed = CaseHistory((msg("m", 0, unsure=True, confirmed_at=T0 + timedelta(hours=3)),), (rep("r", 90),))
    stored = StoredCase(round=0, state="replied", unsure=True)
    after = decide(confirmed, stored, ENGINE, RULES, T0 + timedelta(hours=3))
    assert after.outcome is Outcome.CONFIRMED and after.breach_now
    # An open unsure clock confirmed: the ladder takes over (no breach announced by `decide` itself).
    open_ = decide(CaseHistory((msg("m", 0, unsure=True),), (), (act("confirm", 30),)),
                   StoredCase(round=0, state="open", unsure=True), ENGINE, RULES, T0 + timedelta(minutes=30))
    assert open_.outcome is Outcome.CONFIRMED and not open_.breach_now


def test_an_unsure_non_complaint_opens_no_clock() -> None:
    assert replay(CaseHistory((msg("m", 0, "other", unsure=True),)), ENGINE, RULES, T0) is None


def test_a_team_that_alerts_unsure_complaints_gets_an_ordinary_clock() -> None:
    history = CaseHistory((msg("m", 0, unsure=True),))
    clock = replay(history, ENGINE, CaseRules(alert_unsure=True), T0 + timedelta(hours=3))
    assert clock is not None and not clock.unsure and not clock.unconfirmed
    assert case_outcome(clock, T0 + timedelta(hours=3)) == "breached"
    assert steps(clock, 600) == [(45.0, "m:warn"), (60.0, "m:breach")]


def test_alert_unsure_is_a_boolean_and_a_bad_value_names_its_key() -> None:
    base = {"brands": {"acme": {"keywords": ["acme"]}}}
    assert parse_config(base, env={}).sla.alert_unsure is False
    assert ClockEngine.from_settings(parse_config({**base, "sla": {"alert_unsure": True}}, env={}).sla
                                     ).rules.alert_unsure is True
    with pytest.raises(ConfigError, match=r"sla\.alert_unsure"):
        parse_config({**base, "sla": {"alert_unsure": "perhaps"}}, env={})


def test_a_confirm_after_a_late_answer_makes_it_a_late_answer_of_a_complaint() -> None:
    clock = run(msg("m", 0, unsure=True), rep("r", 90), act("confirm", 120))
    assert isinstance(clock, CaseClock)
    assert clock.state == "replied" and clock.confirmed_at == T0 + timedelta(minutes=120)
    assert case_outcome(clock, T0 + timedelta(hours=3)) == "late"
    # Unconfirmed, the same late answer is no breach in any view.
    assert case_outcome(run(msg("m", 0, unsure=True), rep("r", 90)), T0 + timedelta(hours=3)) == "unsure"  # type: ignore[arg-type]
