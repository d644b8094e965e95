"""Policy config, first-match-wins matching, and explainable deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from listener.errors import ConfigError
from listener.sla.calendar import ClosedPeriodResponse
from listener.sla.policy import (
    CalendarSettings,
    MentionFacts,
    Policy,
    build_calendar,
    build_calendars,
    calendar_for,
    check_references,
    compute_deadline,
    default_policy,
    match_policy,
)

BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)


def facts(**kw: object) -> MentionFacts:
    base: dict[str, object] = {"brand": "acme", "source": "mastodon-main"}
    base.update(kw)
    return MentionFacts(**base)  # type: ignore[arg-type]


POLICIES = [
    Policy(name="crisis", keywords=["recall", "#lawsuit"], first_response="30m"),
    Policy(name="vip", authors=["@Ann", "bob@social.example"], min_followers=10_000, first_response="45m"),
    Policy(name="dm", channels=["direct_message"], first_response="30m"),
    Policy(name="bad-reviews", channels=["review"], max_rating=2, applies_to="all", first_response="4h"),
    Policy(name="reviews", channels=["review"], applies_to="all", first_response="1d"),
    Policy(name="questions", applies_to="non_complaints", sources=["mastodon-*"], first_response="8h"),
    Policy(name="acme-complaints", brands=["acme"], first_response="60m"),
]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"text": "Is this a RECALL?"}, "crisis"),
        ({"text": "see you in court #lawsuit"}, "crisis"),
        ({"text": "recalled items are fine"}, "acme-complaints"),  # whole words only
        ({"author": "ann"}, "vip"),
        ({"author": "@BOB@social.example"}, "vip"),
        ({"followers": 10_000}, "vip"),
        ({"followers": 9_999}, "acme-complaints"),
        ({"channel": "direct_message"}, "dm"),
        ({"channel": "review", "rating": 1, "is_complaint": False}, "bad-reviews"),
        ({"channel": "review", "rating": 5, "is_complaint": False}, "reviews"),
        ({"channel": "review", "rating": None, "is_complaint": True}, "reviews"),
        ({"is_complaint": False}, "questions"),
        ({"is_complaint": False, "source": "rss-news"}, None),
        ({"brand": "globex"}, None),
    ],
)
def test_first_match_wins(kw: dict[str, object], expected: str | None) -> None:
    policy = match_policy(POLICIES, facts(**kw))
    assert (policy.name if policy else None) == expected


def test_order_decides_between_overlapping_policies() -> None:
    wide = Policy(name="wide", first_response="2h")
    narrow = Policy(name="narrow", brands=["acme"], first_response="30m")
    assert match_policy([wide, narrow], facts()).name == "wide"  # type: ignore[union-attr]
    assert match_policy([narrow, wide], facts()).name == "narrow"  # type: ignore[union-attr]


def test_priority_conditions_any_or_all() -> None:
    any_of = Policy(name="p", authors=["ann"], keywords=["recall"])
    all_of = Policy(name="p", authors=["ann"], keywords=["recall"], priority_match="all")
    assert any_of.matches(facts(author="ann", text="hello"))
    assert not all_of.matches(facts(author="ann", text="hello"))
    assert all_of.matches(facts(author="ann", text="product recall now"))


def test_policy_validation_errors() -> None:
    with pytest.raises(ValidationError, match="not both"):
        Policy(name="p", warn_after="10m", warn_before="5m")
    with pytest.raises(ValidationError, match="earlier than first_response"):
        Policy(name="p", first_response="30m", warn_after="45m")
    with pytest.raises(ValidationError, match="strictly increasing"):
        Policy(name="p", escalation=[{"name": "a", "after": "4h"}, {"name": "b", "after": "2h"}])
    with pytest.raises(ValidationError, match="unique"):
        Policy(name="p", escalation=[{"name": "a", "after": "2h"}, {"name": "a", "after": "4h"}])
    with pytest.raises(ValidationError, match="extra"):
        Policy(name="p", taget="60m")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="channel"):
        Policy(name="p", channels=["carrier_pigeon"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="frozen"):
        policy = Policy(name="p")
        policy.name = "q"  # type: ignore[misc]


def test_calendar_settings_validation() -> None:
    with pytest.raises(ValidationError, match="unknown timezone"):
        CalendarSettings(timezone="Nowhere/City")
    with pytest.raises(ValidationError, match="invalid shift"):
        CalendarSettings(hours={"mon": "9-5"})
    with pytest.raises(ValidationError, match="holidays"):
        CalendarSettings(holidays={"country": "XX"})  # type: ignore[arg-type]
    ok = CalendarSettings(
        timezone="Europe/Berlin",
        hours={"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        closed=["2026-12-24"],
        closed_period_response="wall",
    )  # type: ignore[list-item, arg-type]
    assert ok.closed_period_response is ClosedPeriodResponse.WALL


def test_check_references() -> None:
    policies = [Policy(name="a", calendar="eu"), Policy(name="a", calendar="us")]
    problems = check_references(policies, {"eu": CalendarSettings()})
    assert problems == [
        "sla.policies[1].name: duplicate policy name 'a'",
        "sla.policies[1].calendar: unknown calendar 'us' (known: eu)",
    ]


def test_build_calendars_reads_ical_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "closed.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Team day\r\n"
        "DTSTART;VALUE=DATE:20260112\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    settings = CalendarSettings(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}, ical=[Path("closed.ics")])  # type: ignore[arg-type]
    cal = build_calendars({"eu": settings}, base_dir=tmp_path)["eu"]
    assert not cal.is_open(datetime(2026, 1, 12, 10, tzinfo=BERLIN))
    assert cal.is_open(datetime(2026, 1, 13, 10, tzinfo=BERLIN))
    with pytest.raises(ConfigError, match=r"sla\.calendars\.eu: cannot read iCal file"):
        build_calendars({"eu": settings}, base_dir=tmp_path / "elsewhere")


def test_default_policy_reproduces_todays_clock() -> None:
    policy = default_policy()
    assert match_policy([policy], facts()) is policy
    assert match_policy([policy], facts(is_complaint=False)) is None
    anchor = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)  # a Saturday night: 24/7 does not care
    deadline = compute_deadline(policy, None, anchor, anchor_key="m:1")
    assert deadline.due == anchor + 60 * M
    assert deadline.warn_at == anchor + 45 * M
    assert not deadline.business_time
    assert deadline.escalations == ()


def test_explained_deadline_on_a_business_calendar() -> None:
    cal = build_calendar("support-eu", CalendarSettings(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}))
    policy = Policy(
        name="vip",
        authors=["ann"],
        calendar="support-eu",
        warn_before="15m",
        escalation=[
            {"name": "lead", "after": "2h", "to": ["#leads"]},
            {"name": "manager", "after": "4h", "to": ["@mgr"]},
        ],
        reescalate_after_ack="1h",
    )
    anchor = datetime(2026, 1, 9, 16, 30, tzinfo=BERLIN)
    deadline = compute_deadline(
        policy, calendar_for(policy, {"support-eu": cal}), anchor, anchor_key="mastodon:42", author="ann"
    )
    assert deadline.explain() == (
        "60m business time under policy 'vip' on calendar 'support-eu' (Mon-Fri 09:00-17:00 Europe/Berlin) "
        "from @ann's message at Fri 16:30 -> Mon 09:30"
    )
    assert deadline.due.astimezone(BERLIN) == datetime(2026, 1, 12, 9, 30, tzinfo=BERLIN)
    assert deadline.warn_at is not None and deadline.warn_at.astimezone(BERLIN) == datetime(
        2026, 1, 12, 9, 15, tzinfo=BERLIN
    )
    assert [
        (e.level, e.at.astimezone(BERLIN).hour, e.at.astimezone(BERLIN).minute, e.to) for e in deadline.escalations
    ] == [
        ("lead", 10, 30, ("#leads",)),
        ("manager", 12, 30, ("@mgr",)),
    ]
    assert deadline.reescalate_to == ("#leads",)
    assert deadline.to_dict()["explain"] == deadline.explain()


def test_explanation_names_the_holiday_that_was_skipped() -> None:
    settings = CalendarSettings(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}, holidays={"country": "DE"})  # type: ignore[arg-type]
    cal = build_calendar("support-eu", settings)
    policy = Policy(name="standard", calendar="support-eu")
    deadline = compute_deadline(policy, cal, datetime(2026, 4, 2, 16, 30, tzinfo=BERLIN), author="@zoe")
    # Good Friday 2026-04-03 and Easter Monday 2026-04-06 are closed.
    assert deadline.due.astimezone(BERLIN) == datetime(2026, 4, 7, 9, 30, tzinfo=BERLIN)
    text = deadline.explain()
    assert "-> Tue 09:30" in text and "Fri 03 Apr (Good Friday)" in text and "Mon 06 Apr (Easter Monday)" in text


def test_next_response_and_resolution_targets() -> None:
    policy = Policy(
        name="p",
        first_response="60m",
        next_response="2h",
        resolution="1d",
        warn_after="45m",
        escalation=[{"name": "lead", "after": "3h"}],
    )
    anchor = datetime(2026, 1, 12, 9, tzinfo=UTC)
    follow_up = compute_deadline(policy, None, anchor, kind="next_response", anchor_key="m:2")
    assert follow_up.due == anchor + 120 * M
    assert follow_up.warn_at == anchor + 90 * M  # same share of the target as 45m of 60m
    assert "(next response)" in follow_up.explain()
    resolution = compute_deadline(policy, None, anchor, kind="resolution")
    assert resolution.due == anchor + timedelta(days=1) and resolution.escalations == ()
    with pytest.raises(ValueError, match="no resolution target"):
        compute_deadline(Policy(name="q"), None, anchor, kind="resolution")
    assert Policy(name="r").target("next_response") == timedelta(minutes=60)


def test_warning_defaults_to_three_quarters_of_the_target() -> None:
    deadline = compute_deadline(Policy(name="p", first_response="2h"), None, datetime(2026, 1, 12, 9, tzinfo=UTC))
    assert deadline.warn_at == datetime(2026, 1, 12, 10, 30, tzinfo=UTC)


def test_unknown_calendar_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown calendar"):
        calendar_for(Policy(name="p", calendar="nope"), {})
