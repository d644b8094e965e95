"""Every HTTP sink through the real outbox: 429s and 500s for ten fake minutes lose and double nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from alerts.base import Event, EventKind, Sink
from alerts.freshdesk import FreshdeskSink
from alerts.pagerduty import PagerDutySink
from alerts.teams import TeamsSink
from alerts.webhook import WebhookSink
from alerts.zendesk import ZendeskSink
from config.sinks import FreshdeskSettings, PagerDutySettings, TeamsSettings, WebhookSettings, ZendeskSettings
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.events import Policy
from listener.store import Store, SyncStore
from tests.alerts.fake_freshdesk import API_KEY, FakeFreshdesk
from tests.alerts.fake_http import Scripted, ScriptedFake
from tests.alerts.fake_pagerduty import PATH as PD_PATH
from tests.alerts.fake_pagerduty import ROUTING_KEY, FakePagerDuty
from tests.alerts.fake_teams import PATH as TEAMS_PATH
from tests.alerts.fake_teams import QUERY as TEAMS_QUERY
from tests.alerts.fake_teams import FakeWorkflow
from tests.alerts.fake_webhook import PATH, SECRET, FakeReceiver
from tests.alerts.fake_zendesk import EMAIL, TOKEN, FakeZendesk

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OUTAGE = timedelta(minutes=10)


@dataclass
class Case:
    """A sink and its fake: how to build each, and what the fake ended up holding per case."""

    make_fake: Callable[[FakeClock], ScriptedFake]
    make_sink: Callable[[TestServer, aiohttp.ClientSession, FakeClock], Sink]
    delivered: Callable[[Any], list[str]]  # event ids (or case ids) the fake accepted, in arrival order
    expected: Callable[[list[Event]], list[str]]


CASES: dict[str, Case] = {
    "webhook": Case(
        make_fake=lambda clock: FakeReceiver(now=clock.now),
        make_sink=lambda server, session, clock: WebhookSink(
            WebhookSettings(url=str(server.make_url(PATH)), secret=SECRET, timeout="5s"), session, clock=clock),
        delivered=lambda fake: [body["id"] for body in fake.accepted],
        expected=lambda events: [e.id for e in events],
    ),
    "teams": Case(
        make_fake=lambda clock: FakeWorkflow(),
        make_sink=lambda server, session, clock: TeamsSink(
            TeamsSettings(webhook_url=f"{server.make_url(TEAMS_PATH)}?{TEAMS_QUERY}", timeout="5s"), session,
            clock=clock),
        delivered=lambda fake: [_card_event_id(card) for card in fake.cards],
        expected=lambda events: [e.id for e in events],
    ),
    "pagerduty": Case(
        make_fake=lambda clock: FakePagerDuty(),
        make_sink=lambda server, session, clock: PagerDutySink(
            PagerDutySettings(routing_key=ROUTING_KEY, url=str(server.make_url(PD_PATH)), timeout="5s"), session,
            clock=clock),
        delivered=lambda fake: [
            e["payload"]["custom_details"]["event_id"] if e["event_action"] == "trigger"
            else f"{e['dedup_key']}:replied"
            for e in fake.accepted],
        expected=lambda events: [e.id for e in events],
    ),
    "zendesk": Case(
        make_fake=lambda clock: FakeZendesk(),
        make_sink=lambda server, session, clock: ZendeskSink(
            ZendeskSettings(base_url=str(server.make_url("/")).rstrip("/"), email=EMAIL, api_token=TOKEN,
                            timeout="5s"), session, clock=clock),
        delivered=lambda fake: [_note_event_id(c) for t in fake.tickets.values() for c in t.comments],
        expected=lambda events: [e.id for e in events],
    ),
    "freshdesk": Case(
        make_fake=lambda clock: FakeFreshdesk(),
        make_sink=lambda server, session, clock: FreshdeskSink(
            FreshdeskSettings(base_url=str(server.make_url("/")).rstrip("/"), api_key=API_KEY,
                              requester_email="social@acme.example", timeout="5s"), session, clock=clock),
        delivered=lambda fake: [_note_event_id({"body": body}) for t in fake.tickets.values()
                                for body in (t.description, *(n["body"] for n in t.notes))],
        expected=lambda events: [e.id for e in events],
    ),
}


def _note_event_id(comment: dict[str, Any]) -> str:
    """The `listener event <id>` line every note ends with."""
    return str(comment["body"]).rsplit("listener event ", 1)[1].removesuffix("</p>").strip()


def _card_event_id(message: dict[str, Any]) -> str:
    """The `event <id>` line every card ends with."""
    last = message["attachments"][0]["content"]["body"][-1]
    return str(last["inlines"][0]["text"]).removeprefix("event ")


def outage(clock: FakeClock, count: list[int]) -> Callable[[], Scripted | None]:
    """Alternate 500 and 429 (Retry-After: 30) until the outage ends; `count[0]` counts the refusals."""

    def answer() -> Scripted | None:
        if clock.now() >= START + OUTAGE:
            return None
        count[0] += 1
        if count[0] % 2:
            return Scripted(500, json_body={"error": "internal"})
        return Scripted(429, json_body={"error": "rate limited"}, headers={"Retry-After": "30"})

    return answer


def events_for(clock: FakeClock, n: int = 12) -> list[Event]:
    """Breaches of `n` complaints, then a reply to each of the first three."""
    events = []
    for i in range(n):
        events.append(Event(
            id=f"m{i}:breach", kind=EventKind.BREACH, brand="acme", thread=f"m{i}", created_at=clock.now(),
            source="social", mention_key=f"m{i}", author=f"@u{i}", text=f"complaint number {i:02d} *bold* <b>",
            url=f"https://social.example/p/{i}", mention_at=clock.now() - timedelta(hours=1),
            deadline=clock.now(), policy=Policy(name="default")))
    for i in range(3):
        events.append(Event(
            id=f"m{i}:replied", kind=EventKind.REPLIED, brand="acme", thread=f"m{i}", created_at=clock.now(),
            source="social", mention_key=f"m{i}", author=f"@u{i}", text=f"complaint number {i:02d}",
            mention_at=clock.now() - timedelta(hours=1), deadline=clock.now(), response_seconds=4000.0,
            state="replied", policy=Policy(name="default")))
    return events


@pytest.mark.parametrize("name", sorted(CASES))
async def test_outage_then_everything_delivered_once(
    name: str, aiohttp_server: Callable[..., Any], tmp_path: Any
) -> None:
    case = CASES[name]
    clock = FakeClock(START)
    fake = case.make_fake(clock)
    refusals = [0]
    fake.outage = outage(clock, refusals)
    app: web.Application = fake.app()  # type: ignore[attr-defined]
    server = await aiohttp_server(app)
    store = await Store(tmp_path / "db.sqlite").open()
    try:
        async with aiohttp.ClientSession() as session:
            sink = case.make_sink(server, session, clock)
            dispatcher = Dispatcher(store, {name: sink}, clock, retry_base=2.0, retry_max=60.0)
            events = events_for(clock)
            for event in events:
                await store.call(SyncStore.enqueue, event, dispatcher.route)
            while clock.now() < START + OUTAGE + timedelta(minutes=3):
                await dispatcher.dispatch_once()
                clock.advance(timedelta(seconds=5))
    finally:
        await store.close()
    assert refusals[0] >= 10  # the outage really refused requests, for ten minutes of retries
    delivered = case.delivered(fake)
    if name in ("zendesk", "freshdesk"):  # one ticket per case, three of them solved after their reply
        tickets = list(fake.tickets.values())  # type: ignore[attr-defined]
        assert len(tickets) == 12
        assert sum(t.status in ("solved", 4) for t in tickets) == 3
    assert sorted(delivered) == sorted(case.expected(events)), delivered
    # Each case's events arrived in order (a reply never overtakes its breach).
    for i in range(3):
        mine = [d for d in delivered if d.startswith(f"m{i}:")]
        assert mine == sorted(mine, key=lambda d: d.endswith("replied")), mine
