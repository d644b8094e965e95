"""The case rules as pure functions: joining, replaying a history, decisions, the ladder replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from listener.clocks import ClockEngine
from listener.sla.cases import (
    CaseAction,
    CaseHistory,
    CaseMessage,
    CaseReply,
    CaseRules,
    Outcome,
    StoredCase,
    answered_text,
    case_outcome,
    decide,
    joins,
    message_kind,
    replay,
)
from listener.sla.policy import MentionFacts, Policy

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ENGINE = ClockEngine([Policy(name="d", first_response="60m", next_response="30m")], {})
RULES = CaseRules()


def msg(key: str, minutes: float, kind: str = "complaint", author: str = "@ann", brand: str = "acme",
        **kw: object) -> CaseMessage:
    facts = MentionFacts(brand=brand, source="s", author=author, is_complaint=kind == "complaint")
    return CaseMessage(key=key, at=T0 + timedelta(minutes=minutes), author=author, facts=facts,
                       kind=kind, seen_at=kw.pop("seen_at", None) or T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def rep(key: str, minutes: float) -> CaseReply:
    return CaseReply(key, "@acme", T0 + timedelta(minutes=minutes))


def act(action: str, minutes: float, key: str = "") -> CaseAction:
    at = T0 + timedelta(minutes=minutes)
    return CaseAction(action, "U1", at, key or f"{action}-{minutes}", at + timedelta(minutes=30) if action == "snooze"
                      else None)


def run(*items: object, now_minutes: float = 600) -> object:
    messages = tuple(i for i in items if isinstance(i, CaseMessage))
    replies = tuple(i for i in items if isinstance(i, CaseReply))
    actions = tuple(i for i in items if isinstance(i, CaseAction))
    return replay(CaseHistory(messages, replies, actions), ENGINE, RULES, T0 + timedelta(minutes=now_minutes))


def test_message_kinds() -> None:
    assert message_kind(scored=True, complaint=True, sentiment="negative", text="x") == "complaint"
    assert message_kind(scored=True, complaint=False, sentiment="neutral", text="does it ship?") == "question"
    assert message_kind(scored=True, complaint=False, sentiment="positive", text="love it, right?") == "other"
    assert message_kind(scored=False, complaint=False, sentiment=None, text="?") == "other"


def test_joining_a_case() -> None:
    case_at = T0
    assert joins(msg("f", 10, "other"), "thread", "acme", case_at, RULES)  # a thread always joins
    assert joins(msg("f", 10, "complaint"), "author", "acme", case_at, RULES)
    assert joins(msg("f", 10, "question"), "author", "acme", case_at, RULES)
    assert not joins(msg("f", 10, "other"), "author", "acme", case_at, RULES)  # praise, neutral
    assert not joins(msg("f", 10, "complaint", brand="globex"), "author", "acme", case_at, RULES)
    assert not joins(msg("f", 25 * 60, "complaint"), "author", "acme", case_at, RULES)
    assert joins(msg("f", 25 * 60, "complaint"), "author", "acme", case_at, CaseRules(timedelta(days=2)))


def test_an_answer_in_time_and_a_late_one() -> None:
    met = run(msg("m", 0), rep("r", 40))
    assert met.state == "replied" and not met.late and met.response_seconds == 2400  # type: ignore[attr-defined]
    late = run(msg("m", 0), rep("r", 75))
    assert late.state == "replied" and late.late  # type: ignore[attr-defined]
    assert case_outcome(late, T0) == "late"  # type: ignore[arg-type]
    assert answered_text(55, T0, T0 + timedelta(seconds=40)) == "answered after 55s, 15s late"
    assert answered_text(30, T0, T0 + timedelta(seconds=40)) == "answered after 30s, within target"


def test_follow_ups_restart_only_when_they_complain_or_ask_after_the_answer() -> None:
    clock = run(msg("m", 0), rep("r1", 10), msg("f", 20, "complaint"), rep("r2", 25))
    assert (clock.round, clock.state, clock.anchor_key, clock.deadline.kind) == (  # type: ignore[attr-defined]
        1, "replied", "f", "next_response")
    assert clock.rounds[0].closed_at == T0 + timedelta(minutes=10)  # type: ignore[attr-defined]
    praise = run(msg("m", 0), rep("r1", 10), msg("p", 20, "other"))
    assert (praise.round, praise.state) == (0, "replied")  # type: ignore[attr-defined]
    before_answer = run(msg("m", 0), msg("f", 5, "complaint"), rep("r1", 10))
    assert (before_answer.round, before_answer.state) == (0, "replied")  # type: ignore[attr-defined]


def test_actions() -> None:
    dismissed = run(msg("m", 0), act("not_complaint", 5), rep("r", 10), msg("p", 15, "other"))
    assert dismissed.state == "not_complaint" and dismissed.closed_by == "U1"  # type: ignore[attr-defined]
    # Dismissed, then a real complaint: a new round with a first-response target.
    complained = run(msg("m", 0), act("not_complaint", 5), msg("f", 20))
    assert (complained.state, complained.round, complained.deadline.kind) == (  # type: ignore[attr-defined]
        "open", 1, "first_response")
    marked = run(msg("m", 0), act("replied", 70))
    assert marked.state == "marked_replied" and marked.late  # type: ignore[attr-defined]
    acked = run(msg("m", 0), act("ack", 5), act("snooze", 6), act("assign", 7))
    assert acked.state == "open" and acked.acked_at == T0 + timedelta(minutes=5)  # type: ignore[attr-defined]
    assert acked.snoozed_until == T0 + timedelta(minutes=36) and acked.assigned_to == "U1"  # type: ignore[attr-defined]
    too_late = run(msg("m", 0), rep("r", 10), act("not_complaint", 20))
    assert too_late.state == "replied" and too_late.applied == ()  # type: ignore[attr-defined]


def test_max_age_and_policies() -> None:
    assert run(msg("old", 0, seen_at=T0 + timedelta(days=324))) is None
    assert run(msg("praise", 0, "other")) is None  # the default policy covers complaints only


def test_decisions() -> None:
    history = CaseHistory((msg("m", 0),), (rep("r", 75),))
    first = decide(history, None, ENGINE, RULES, T0 + timedelta(hours=2))
    assert first.outcome is Outcome.REPLIED_LATE and first.breach_now
    assert "answered after 1h 15m, 15m late" in first.explain
    again = decide(history, StoredCase(round=0, state="replied", breached_at=T0 + timedelta(hours=1)), ENGINE,
                   RULES, T0 + timedelta(hours=2))
    assert again.outcome is Outcome.JOIN and not again.breach_now
    opened = decide(CaseHistory((msg("m", 0),)), None, ENGINE, RULES, T0)
    assert opened.outcome is Outcome.OPEN
    restarted = decide(CaseHistory((msg("m", 0), msg("f", 20)), (rep("r", 10),)),
                       StoredCase(round=0, state="replied"), ENGINE, RULES, T0 + timedelta(minutes=20))
    assert restarted.outcome is Outcome.RESTART and restarted.clock.round == 1  # type: ignore[union-attr]
    ignored = decide(CaseHistory((msg("p", 0, "other"),)), None, ENGINE, RULES, T0)
    assert ignored.outcome is Outcome.IGNORE and ignored.clock is None


EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("msg"), st.sampled_from(["complaint", "question", "other"]), st.integers(1, 300)),
        st.tuples(st.just("reply"), st.just(""), st.integers(0, 300)),
        st.tuples(st.just("act"), st.sampled_from(["ack", "snooze", "assign", "replied", "not_complaint"]),
                  st.integers(0, 300)),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.randoms(use_true_random=False))
def test_the_replay_does_not_depend_on_the_order_it_is_given_the_history(events, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    items: list[object] = [msg("m", 0)]
    for i, (what, detail, minutes) in enumerate(events):
        if what == "msg":
            items.append(msg(f"f{i}", minutes, detail))
        elif what == "reply":
            items.append(rep(f"r{i}", minutes))
        else:
            items.append(act(detail, minutes, f"a{i}"))
    expected = run(*items)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert run(*shuffled) == expected
