"""The case rules seen from outside: replies to follow-ups, late answers, what joins a case, corrections, max_age."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from alerts.base import EventKind
from alerts.slack_blocks import render
from listener.analytics.sla import sla_report
from listener.backtest import backtest
from listener.cli import cli
from listener.clocks import ClockEngine
from listener.domain import Page, Reply
from listener.migrations import m015_case_engine
from tests.test_policy_clocks import LADDER, Harness, mention, sla


def reply(ext: str, to: str, at, author: str = "@acme") -> Reply:  # type: ignore[no-untyped-def]
    return Reply(source="social", external_id=ext, in_reply_to=to, author=author, created_at=at)


async def test_a_reply_to_a_follow_up_stored_before_it_was_classified_closes_the_new_round(make_settings,
                                                                                          clock) -> None:
    settings = make_settings(sla({"name": "d", "first_response": "60m", "next_response": "30m"}))
    h = Harness(settings, clock)
    start = clock.now()
    # One poll brings everything: the complaint, the answer, the customer's follow-up and the answer to it.
    follow = mention(start + timedelta(minutes=20), "2", "acme that did not help, still broken", in_reply_to="r1")
    await h.at(start + timedelta(minutes=30)).run(Page(
        [mention(start, "1", "acme my order never arrived"), follow],
        "c", replies=[reply("r1", "1", start + timedelta(minutes=10)), reply("r2", "2", start + timedelta(minutes=25))],
    ))
    await h.at(start + timedelta(hours=3)).run()
    store = h.store()
    (case,) = store.complaints()
    round_ = store.db.execute("SELECT round FROM complaints").fetchone()[0]
    store.close()
    assert (case.state, round_, case.closed_at) == ("replied", 1, start + timedelta(minutes=25))
    assert case.breached_at is None
    assert [e.kind for e, _ in h.sink.events] == []


async def test_an_answer_after_the_deadline_is_a_breach_however_late_we_learn_it(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "fast", "first_response": "40s"}))
    h = Harness(settings, clock)
    start = clock.now()
    # The daemon was down: it sees the complaint and the brand's late answer in the same poll.
    await h.at(start + timedelta(minutes=5)).run(Page(
        [mention(start, "1", "acme my order never arrived")], "c",
        replies=[reply("r1", "1", start + timedelta(seconds=55))],
    ))
    store = h.store()
    (case,) = store.complaints()
    store.close()
    assert case.state == "replied" and case.breached_at is not None
    kinds = [e.kind for e, _ in h.sink.events]
    assert kinds == [EventKind.BREACH, EventKind.REPLIED]
    breach = h.sink.events[0][0]
    assert breach.id == "social:1:breach" and breach.state == "answered after 55s, 15s late"
    # `listener complaints` and `listener sla-report` agree.
    result = CliRunner().invoke(cli, ["complaints", "--format", "json"],
                                env={"LISTENER_DB": str(settings.listener.database)})
    assert '"breached": true' in result.output
    conn = sqlite3.connect(settings.listener.database)
    report = sla_report(conn, now=start + timedelta(minutes=5))
    conn.close()
    assert report["total"]["breaches"] == 1 and report["total"]["within_target"] == 0


async def test_a_follow_up_alert_quotes_and_links_the_new_message(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "d", "first_response": "60m", "next_response": "30m"}))
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme my order never arrived", url="https://s.example/1")], "c"))
    await h.at(start + timedelta(minutes=10)).run(
        Page([], "c1", replies=[reply("r1", "1", start + timedelta(minutes=10))])
    )
    follow = mention(start + timedelta(minutes=20), "2", "acme STILL nothing, the tracking link is broken",
                     in_reply_to="r1", url="https://s.example/2")
    await h.at(start + timedelta(minutes=20)).run(Page([follow], "c2"))
    await h.at(start + timedelta(minutes=55)).run()
    (breach,) = [e for e, _ in h.sink.events if e.kind is EventKind.BREACH]
    assert breach.id == "social:1:r1:breach" and breach.mention_key == "social:1"  # same case, same thread
    assert breach.text == follow.text and breach.url == "https://s.example/2"
    assert breach.mention_at == follow.created_at


async def test_praise_or_neutral_posts_by_the_same_customer_never_restart_the_clock(make_settings, clock) -> None:
    settings = make_settings()
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme my order never arrived")], "c",
                     replies=[reply("r1", "1", start + timedelta(minutes=10))]))
    await h.at(start + timedelta(minutes=20)).run(Page([
        mention(start + timedelta(minutes=15), "2", "thanks acme, love the quick answer"),
        mention(start + timedelta(minutes=16), "3", "watching the acme keynote tonight"),
    ], "c1"))
    await h.at(start + timedelta(hours=3)).run()
    store = h.store()
    (case,) = store.complaints()
    store.close()
    assert case.state == "replied" and case.breached_at is None
    assert h.sink.events == []


async def test_only_complaints_within_the_follow_up_window_join_the_case(make_settings, clock) -> None:
    settings = make_settings({"sla": {"policies": [{"name": "d", "first_response": "60m"}],
                                      "follow_up_window": "2h"}})
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme my order never arrived"),
                      mention(start + timedelta(minutes=30), "2", "acme refund never came either"),
                      mention(start + timedelta(hours=3), "3", "acme my router is broken now")], "c"))
    store = h.store()
    keys = sorted(c.mention_key for c in store.complaints())
    store.close()
    assert keys == ["social:1", "social:3"]  # 30 minutes later: the same case; 3 hours later: a new one


async def test_backtest_honours_not_a_complaint_acks_and_snoozes_like_the_live_run(make_settings, clock) -> None:
    settings = make_settings(sla(LADDER))
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme refund never arrived"),
                      mention(start, "2", "acme never sleeps, what a show", author="@bob")], "c"))
    store = h.store()
    route = lambda e: ["rec"]  # noqa: E731
    store.take_action("social:2", "not_complaint", "U3", start + timedelta(minutes=5), route, request_key="n1")
    store.close()
    for minutes in (46, 61, 121):
        await h.at(start + timedelta(minutes=minutes)).run()
    store = h.store()
    store.take_action("social:1", "ack", "U1", start + timedelta(minutes=130), route, request_key="a1")
    store.close()
    await h.at(start + timedelta(minutes=245)).run()
    live = sorted(e.kind.value for e, _ in h.sink.events if e.kind is not EventKind.ACTION)
    assert live == ["breach", "escalate", "escalate", "warn"]  # lead, then the re-escalation after the ack
    engine = ClockEngine.from_settings(settings.sla)
    report = backtest(Path(settings.listener.database), engine, start - timedelta(hours=1),
                      start + timedelta(minutes=246))
    assert report.fired == {"warn": 1, "breach": 1, "escalate": 1, "reescalate": 1}
    assert (report.clocks, report.missed, report.not_complaint) == (1, 1, 1)


async def test_label_not_a_complaint_closes_the_clock(make_settings, clock) -> None:
    settings = make_settings()
    h = Harness(settings, clock)
    await h.run(Page([mention(clock.now(), "1", "acme never sleeps, what a show")], "c"))
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["label", "social:1", "--complaint", "no", "--by", "dana"],
        env={"LISTENER_DB": str(settings.listener.database)},
    )
    assert result.exit_code == 0, result.output
    store = h.store()
    (case,) = store.complaints()
    store.close()
    assert case.state == "not_complaint" and case.closed_by == "dana"
    await h.at(clock.now() + timedelta(hours=3)).run()
    assert h.sink.events == []


async def test_after_not_a_complaint_the_slack_message_loses_its_buttons(make_settings, clock) -> None:
    settings = make_settings()
    h = Harness(settings, clock)
    await h.run(Page([mention(clock.now(), "1", "acme never sleeps, what a show")], "c"))
    store = h.store()
    store.take_action("social:1", "not_complaint", "U3", clock.now(), lambda e: ["rec"], request_key="n1")
    store.close()
    await h.run()
    (event,) = [e for e, _ in h.sink.events if e.kind is EventKind.ACTION]
    blocks = render(event, now=clock.now(), buttons=True).blocks
    action_ids = {el.get("action_id") for b in blocks if b["type"] == "actions" for el in b["elements"]}
    assert "listener_ack" not in action_ids and "listener_not_complaint" not in action_ids


async def test_importing_old_mentions_opens_no_clocks(make_settings, clock) -> None:
    settings = make_settings()
    h = Harness(settings, clock)
    await h.run(Page([mention(clock.now() - timedelta(days=324), "old", "acme my order never arrived"),
                      mention(clock.now() - timedelta(hours=2), "new", "acme my bill is broken")], "c"))
    store = h.store()
    keys = [c.mention_key for c in store.complaints()]
    store.close()
    assert keys == ["social:new"]


async def test_review_rating_and_channel_are_typed_fields_and_old_rows_keep_working(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "bad-reviews", "channels": ["review"], "max_rating": 2, "applies_to": "all",
                                  "first_response": "4h"}, {"name": "rest", "first_response": "60m"}))
    h = Harness(settings, clock)
    now = clock.now()
    typed = mention(now, "t", "acme app broken after update", channel="review", rating=1)
    legacy = mention(
        now, "l", "acme app broken after the update", author="@bob", raw={"rating": 2, "channel": "review"}
    )
    await h.run(Page([typed, legacy], "c"))
    store = h.store()
    targets = {c.mention_key: c.deadline - c.opened_at for c in store.complaints()}
    assert targets == {"social:t": timedelta(hours=4), "social:l": timedelta(hours=4)}
    # Rows written before the columns existed had the facts in `raw` only: the migration copies them.
    store.db.execute("UPDATE mentions SET channel = NULL, rating = NULL")
    m015_case_engine(store.db)
    rows = dict(store.db.execute("SELECT key, rating FROM mentions WHERE channel = 'review'").fetchall())
    store.close()
    assert rows == {"social:l": 2}  # the typed one never had them in raw
