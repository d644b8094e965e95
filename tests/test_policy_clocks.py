"""Clocks under policies and business calendars, the escalation ladder, and Slack's buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from listener.clocks import ClockEngine
from listener.corrections import load_corrections
from listener.daemon import Daemon
from listener.domain import Mention, Page, Reply
from listener.store import SyncStore
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector

FRIDAY_1630 = datetime(2026, 1, 9, 16, 30, tzinfo=UTC)
WEEKDAYS = {"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}}


def sla(*policies: dict[str, Any], **calendars: dict[str, Any]) -> dict[str, Any]:
    return {"sla": {"policies": list(policies), "calendars": calendars}}


def mention(at: datetime, ext: str, text: str, author: str = "@ann", **kw: Any) -> Mention:
    return Mention(source="social", external_id=ext, text=text, author=author, created_at=at, brands=("acme",), **kw)


class Harness:
    """Burst-mode runs over one scripted source, on a fake clock, with a recording sink."""

    def __init__(self, settings, clock) -> None:
        self.settings, self.clock = settings, clock
        self.source = ScriptedConnector("social")
        self.sink = RecordingSink(kinds=None)

    async def run(self, *pages: Page) -> None:
        self.source.pages.extend(pages)
        daemon = Daemon(self.settings, clock=self.clock, classifier=KeywordClassifier(),
                        sinks={"rec": self.sink}, connectors={"social": self.source})
        await daemon.run_once()

    def at(self, when: datetime) -> Harness:
        self.clock.set(when)
        return self

    @property
    def ids(self) -> list[str]:
        return [e.id for e, _ in self.sink.events]

    def store(self) -> SyncStore:
        store = SyncStore(self.settings.listener.database)
        store.set_engine(ClockEngine.from_settings(self.settings.sla))  # as the daemon and the CLI do
        return store


async def test_business_hours_move_the_deadline_over_the_weekend(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "weekdays", "first_response": "60m", "calendar": "office"},
                                 office=WEEKDAYS))
    h = Harness(settings, clock)
    await h.at(FRIDAY_1630).run(Page([mention(FRIDAY_1630, "1", "acme my bill is broken")], "c"))
    await h.at(datetime(2026, 1, 10, 12, 0, tzinfo=UTC)).run()  # Saturday: nothing is due
    assert h.ids == []
    await h.at(datetime(2026, 1, 12, 9, 31, tzinfo=UTC)).run()  # Monday 09:31
    assert h.ids == ["social:1:breach"]  # warning (Mon 09:15) and breach both due: one alert
    breach = h.sink.events[-1][0]
    assert breach.deadline == datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
    assert breach.policy is not None
    explain = breach.policy.explain
    assert "60m business time under policy 'weekdays'" in explain and "Mon 09:30" in explain
    store = h.store()
    (c,) = store.complaints()
    store.close()
    assert c.deadline == datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


async def test_first_matching_policy_wins(make_settings, clock) -> None:
    settings = make_settings(sla(
        {"name": "vip", "authors": ["@ceo"], "first_response": "15m"},
        {"name": "big", "min_followers": 10000, "first_response": "30m"},
        {"name": "rest", "first_response": "2h"},
    ))
    h = Harness(settings, clock)
    now = clock.now()
    await h.run(Page([
        mention(now, "1", "acme is broken", author="@ceo"),
        mention(now, "2", "acme is broken too", author="@star", author_followers=50000),
        mention(now, "3", "acme is broken here", author="@joe"),
    ], "c"))
    store = h.store()
    deadlines = {c.mention_key: c.deadline - c.opened_at for c in store.complaints()}
    store.close()
    assert deadlines == {"social:1": timedelta(minutes=15), "social:2": timedelta(minutes=30),
                         "social:3": timedelta(hours=2)}


async def test_questions_get_their_own_longer_clock(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "others", "applies_to": "non_complaints", "first_response": "24h"},
                                 {"name": "default", "first_response": "60m"}))
    h = Harness(settings, clock)
    await h.run(Page([mention(clock.now(), "q", "does acme ship to Canada?")], "c"))
    store = h.store()
    (c,) = store.complaints()
    is_complaint = store.db.execute("SELECT is_complaint FROM complaints").fetchone()[0]
    store.close()
    assert c.deadline - c.opened_at == timedelta(hours=24) and is_complaint == 0


LADDER = {"name": "ladder", "first_response": "60m", "warn_after": "45m", "reescalate_after_ack": "1h",
          "escalation": [{"name": "lead", "after": "2h", "to": ["#leads"]},
                         {"name": "manager", "after": "4h", "to": ["S0MANAGERS"]}]}


async def test_escalation_ladder_and_acknowledgement(make_settings, clock) -> None:
    settings = make_settings(sla(LADDER))
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme refund never arrived")], "c"))
    for minutes in (46, 61, 121):
        await h.at(start + timedelta(minutes=minutes)).run()
    assert h.ids == ["social:1:warn", "social:1:breach", "social:1:escalate:lead"]
    escalation = h.sink.events[-1][0]
    assert escalation.kind.value == "escalate" and escalation.escalation is not None
    assert escalation.escalation.to == ("#leads",)

    store = h.store()
    now = start + timedelta(minutes=130)
    assert store.take_action("social:1", "ack", "U1", now, lambda e: ["rec"], request_key="a1") == "done"
    assert store.take_action("social:1", "ack", "U1", now, lambda e: ["rec"], request_key="a1") == "duplicate"
    store.close()
    # Acknowledged: the 4 h manager level is skipped, but an hour later it escalates again.
    await h.at(start + timedelta(minutes=245)).run()
    kinds = [e.kind.value for e, _ in h.sink.events[3:]]
    assert h.ids[3] == "social:1:ack:a1"
    assert kinds == ["action", "escalate"]
    assert "manager" not in " ".join(h.ids)
    assert h.ids[-1].startswith("social:1:reescalate:")


async def test_snooze_holds_alerts_until_it_ends(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "d", "first_response": "60m", "warn_after": "45m"}))
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme router broken")], "c"))
    store = h.store()
    store.take_action("social:1", "snooze", "U2", start + timedelta(minutes=40), lambda e: ["rec"],
                      request_key="s1")
    store.close()
    await h.at(start + timedelta(minutes=50)).run()  # warn is due, but snoozed until 70'
    assert [e.kind.value for e, _ in h.sink.events] == ["action"]
    assert "snoozed until" in h.sink.events[0][0].state
    await h.at(start + timedelta(minutes=71)).run()
    assert h.ids[1:] == ["social:1:breach"]  # the breach supersedes the held warning


async def test_not_a_complaint_closes_and_becomes_a_correction(make_settings, clock) -> None:
    settings = make_settings()
    h = Harness(settings, clock)
    await h.run(Page([mention(clock.now(), "1", "acme never sleeps, what a show")], "c"))
    store = h.store()
    assert store.take_action("social:1", "not_complaint", "U3", clock.now(), None, request_key="n1") == "done"
    assert store.take_action("social:1", "replied", "U3", clock.now(), None, request_key="n2") == "closed"
    (c,) = store.complaints()
    store.close()
    assert c.state == "not_complaint" and c.closed_by == "U3"
    (correction,) = load_corrections(settings.listener.database)
    assert (correction.complaint, correction.mention_key, correction.by) == (0, "social:1", "U3")
    await h.at(clock.now() + timedelta(hours=3)).run()
    assert h.sink.events == []  # a dismissed clock never alerts


async def test_follow_up_after_the_answer_starts_the_next_response_clock(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "d", "first_response": "60m", "next_response": "30m",
                                  "warn_after": "45m"}))
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme my order never arrived")], "c"))
    answer = Reply(source="social", external_id="r1", in_reply_to="1", author="@acme",
                   created_at=start + timedelta(minutes=10))
    follow = mention(start + timedelta(minutes=20), "2", "acme that did not help, still lost", in_reply_to="r1")
    await h.at(start + timedelta(minutes=20)).run(Page([], "c1", replies=[answer]), Page([follow], "c2"))
    await h.at(start + timedelta(minutes=51)).run()
    store = h.store()
    (c,) = store.complaints()
    kind = store.db.execute("SELECT kind, round FROM complaints").fetchone()
    store.close()
    assert tuple(kind) == ("next_response", 1)
    assert c.opened_at == start + timedelta(minutes=20) and c.deadline == start + timedelta(minutes=50)
    assert h.ids == ["social:1:r1:breach"]


async def test_response_time_is_kept_in_business_and_wall_clock_time(make_settings, clock) -> None:
    settings = make_settings(sla({"name": "weekdays", "first_response": "60m", "calendar": "office"},
                                 office=WEEKDAYS))
    h = Harness(settings, clock)
    await h.at(FRIDAY_1630).run(Page([mention(FRIDAY_1630, "1", "acme app is broken")], "c"))
    monday = datetime(2026, 1, 12, 9, 15, tzinfo=UTC)
    reply = Reply(source="social", external_id="r", in_reply_to="1", author="@acme", created_at=monday)
    await h.at(monday).run(Page([], "c2", replies=[reply]))
    store = h.store()
    row = store.db.execute("SELECT response_seconds, business_seconds FROM complaints").fetchone()
    store.close()
    assert row[1] == 45 * 60  # 30 min on Friday + 15 on Monday
    assert row[0] == (monday - FRIDAY_1630).total_seconds()
