"""The Zendesk sink against a loopback Support API: one ticket per case, notes, solve, crashes, errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from alerts import build_sinks
from alerts.base import Event, EventKind
from alerts.zendesk import ZendeskSink, external_id
from config.loader import parse_config
from config.schema import AlertSettings
from config.sinks import ZendeskSettings
from listener.clock import FakeClock
from listener.errors import ConfigError, SinkError
from tests.alerts.fake_http import Scripted
from tests.alerts.fake_zendesk import EMAIL, TOKEN, FakeZendesk

Fake = tuple[FakeZendesk, TestServer]
CASE = external_id("mastodon:109")


@pytest.fixture
async def zendesk(aiohttp_server: Callable[..., Any]) -> Fake:
    fake = FakeZendesk()
    return fake, await aiohttp_server(fake.app())


def sink_for(server: TestServer, session: aiohttp.ClientSession, clock: FakeClock, **overrides: Any) -> ZendeskSink:
    values: dict[str, Any] = {"base_url": str(server.make_url("/")).rstrip("/"), "email": EMAIL, "api_token": TOKEN,
                              "timeout": "5s", **overrides}
    return ZendeskSink(ZendeskSettings(**values), session, clock=clock)


async def test_breach_opens_a_ticket_later_events_add_notes_and_a_reply_solves_it(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = zendesk
    sink = sink_for(server, session, clock, group_id=42)
    ref = await sink.send(make_event(EventKind.BREACH), None)
    [ticket] = fake.tickets.values()
    assert ref == str(ticket.id)
    assert ticket.external_id == CASE and ticket.priority == "high" and ticket.group_id == 42
    assert ticket.tags == ["listener", "listener_breach"]
    assert ticket.subject.startswith("Response deadline missed · acme · @dana@example.social: My acme router")
    assert ticket.comments[0]["public"] is False and "listener event mastodon:109:breach" in ticket.comments[0]["body"]
    ref = await sink.send(make_event(EventKind.ESCALATE, id="mastodon:109:esc:1", state="escalated to lead"), ref)
    ref = await sink.send(make_event(EventKind.REPLIED, response_seconds=4000.0, state="replied"), ref)
    assert ref == f"{ticket.id}:solved" and ticket.status == "solved"
    assert len(ticket.comments) == 3 and all(c["public"] is False for c in ticket.comments)
    assert "replied after 1h 06m" in ticket.comments[2]["body"]
    # The case reopens (a new round breaches): the solved ticket is reopened with a note.
    ref = await sink.send(make_event(EventKind.BREACH, id="mastodon:109:r2:breach"), ref)
    assert ref == str(ticket.id) and ticket.status == "open" and len(fake.tickets) == 1


async def test_a_create_repeated_after_a_crash_finds_the_first_ticket(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = zendesk
    sink = sink_for(server, session, clock)
    first = await sink.send(make_event(), None)
    # The daemon died before recording `first`: the breach is sent again with no ref.
    again = await sink.send(make_event(), None)
    assert again == first and len(fake.tickets) == 1
    [ticket] = fake.tickets.values()
    assert len(ticket.comments) == 1  # the breach's note is the ticket's first comment: not added twice


async def test_a_note_repeated_after_a_crash_is_added_once(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = zendesk
    sink = sink_for(server, session, clock)
    ref = await sink.send(make_event(), None)
    escalate = make_event(EventKind.ESCALATE, id="mastodon:109:esc:1")
    await sink.send(escalate, ref)
    await sink.send(escalate, ref)
    [ticket] = fake.tickets.values()
    assert len(ticket.comments) == 2


async def test_events_before_the_ticket_exists_open_nothing(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = zendesk
    sink = sink_for(server, session, clock)
    assert not sink.accepts(make_event(EventKind.WARN))  # create_on is ["breach"]
    assert await sink.send(make_event(EventKind.REPLIED, response_seconds=60.0), None) is None
    assert fake.tickets == {}
    every = sink_for(server, session, clock, create_on=["warn", "breach"])
    ref = await every.send(make_event(EventKind.WARN), None)
    assert await every.send(make_event(EventKind.BREACH), ref) == ref and len(fake.tickets) == 1


async def test_a_deleted_or_closed_ticket_gets_a_new_one(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = zendesk
    sink = sink_for(server, session, clock)
    ref = await sink.send(make_event(), None)
    assert ref is not None
    del fake.tickets[int(ref)]  # an agent deleted it
    ref2 = await sink.send(make_event(EventKind.ESCALATE, id="mastodon:109:esc:1"), ref)
    assert ref2 is None  # an escalation does not open tickets
    ref3 = await sink.send(make_event(id="mastodon:109:r2:breach"), ref)
    assert ref3 is not None and ref3 != ref
    fake.tickets[int(ref3)].status = "closed"
    assert await sink.send(make_event(EventKind.REPLIED, response_seconds=9.0), ref3) is None
    ref4 = await sink.send(make_event(id="mastodon:109:r3:breach"), ref3)
    assert ref4 not in (ref, ref3) and len(fake.by_external_id(CASE)) == 2


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


async def test_hostile_text_in_ticket_bodies_is_escaped(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = zendesk
    event = make_event(text='<script>alert(1)</script> [x](javascript:alert(2)) {{ticket.requester.email}}',
                       author='"><img src=x onerror=alert(3)>', url="javascript:alert(4)")
    await sink_for(server, session, clock).send(event, None)
    [ticket] = fake.tickets.values()
    html = ticket.comments[0]["html_body"]
    parser = Tags()
    parser.feed(html)
    assert parser.tags <= {"p", "strong", "table", "tr", "th", "td", "blockquote", "br"}, parser.tags
    assert parser.hrefs == []
    assert "&lt;script&gt;" in html and "&quot;&gt;&lt;img src=x onerror=alert(3)&gt;" in html
    assert "\n" not in ticket.subject


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        (Scripted(429, json_body={"error": "TooManyRequests"}, headers={"Retry-After": "93"}), False, 93.0),
        (Scripted(503, text="Maintenance", headers={"Retry-After": "30"}), False, 30.0),
        (Scripted(409, json_body={"error": "Conflict"}), False, None),
        (Scripted(422, json_body={"error": "RecordInvalid", "description": "Record validation errors",
                                  "details": {"priority": [{"description": "Priority: is not valid"}]}}), True, None),
    ],
)
async def test_api_errors(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    answer: Scripted, permanent: bool, retry_after: float | None,
) -> None:
    fake, server = zendesk
    fake.answer_next(answer)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock).send(make_event(), None)
    assert (info.value.permanent, info.value.retry_after) == (permanent, retry_after)
    if answer.status == 422:
        assert "priority: Priority: is not valid" in str(info.value)
    assert fake.tickets == {}


async def test_a_wrong_token_is_permanent_and_never_shown(
    zendesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, server = zendesk
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock, api_token="WRONGtokenVALUE").send(make_event(), None)
    assert info.value.permanent and "Couldn't authenticate you" in str(info.value)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "WRONGtokenVALUE" not in str(info.value) + ours


def test_config() -> None:
    settings = ZendeskSettings(subdomain="acme", email=EMAIL, api_token=TOKEN)
    assert settings.root == "https://acme.zendesk.com" and settings.configured
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"zendesk": {"subdomain": "acme"}}})
    assert any(p.startswith("alerts.zendesk") and "api_token" in p for p in info.value.problems), info.value.problems
    with pytest.raises(ConfigError):
        parse_config({"alerts": {"zendesk": {"subdomain": "acme.zendesk.com", "email": EMAIL, "api_token": "t"}}})


async def test_registry(session: aiohttp.ClientSession) -> None:
    on = AlertSettings.model_validate({"zendesk": {"subdomain": "acme", "email": EMAIL, "api_token": TOKEN}})
    assert [s.name for s in build_sinks(on, session)] == ["zendesk"]
