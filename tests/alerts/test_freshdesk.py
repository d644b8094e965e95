"""The Freshdesk sink against a loopback API v2: one ticket per case, private notes, resolve, crashes, errors."""

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
from alerts.freshdesk import FreshdeskSink, case_tag
from config.loader import parse_config
from config.schema import AlertSettings
from config.sinks import FreshdeskSettings
from listener.clock import FakeClock
from listener.errors import ConfigError, SinkError
from tests.alerts.fake_freshdesk import API_KEY, FakeFreshdesk
from tests.alerts.fake_http import Scripted

Fake = tuple[FakeFreshdesk, TestServer]
TAG = case_tag("mastodon:109")


@pytest.fixture
async def freshdesk(aiohttp_server: Callable[..., Any]) -> Fake:
    fake = FakeFreshdesk()
    return fake, await aiohttp_server(fake.app())


def sink_for(server: TestServer, session: aiohttp.ClientSession, clock: FakeClock, **overrides: Any) -> FreshdeskSink:
    values: dict[str, Any] = {"base_url": str(server.make_url("/")).rstrip("/"), "api_key": API_KEY,
                              "requester_email": "social@acme.example", "timeout": "5s", **overrides}
    return FreshdeskSink(FreshdeskSettings(**values), session, clock=clock)


async def test_breach_opens_a_ticket_notes_follow_and_a_reply_resolves_it(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = freshdesk
    sink = sink_for(server, session, clock, group_id=7)
    ref = await sink.send(make_event(EventKind.BREACH), None)
    [ticket] = fake.tickets.values()
    assert ref == str(ticket.id) and ticket.status == 2 and ticket.priority == 3 and ticket.group_id == 7
    assert ticket.tags == ["listener", TAG, "listener_breach"] and ticket.requester == "social@acme.example"
    assert "listener event mastodon:109:breach" in ticket.description
    ref = await sink.send(make_event(EventKind.ESCALATE, id="mastodon:109:esc:1"), ref)
    ref = await sink.send(make_event(EventKind.REPLIED, response_seconds=4000.0, state="replied"), ref)
    assert ref == f"{ticket.id}:solved" and ticket.status == 4
    assert [n["private"] for n in ticket.notes] == [True, True]
    assert "replied after 1h 06m" in ticket.notes[1]["body_text"]
    ref = await sink.send(make_event(EventKind.BREACH, id="mastodon:109:r2:breach"), ref)
    assert ref == str(ticket.id) and ticket.status == 2 and len(fake.tickets) == 1


async def test_repeats_after_a_crash_open_one_ticket_and_add_each_note_once(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = freshdesk
    sink = sink_for(server, session, clock)
    first = await sink.send(make_event(), None)
    assert await sink.send(make_event(), None) == first  # the ref was never recorded: found by its tag
    escalate = make_event(EventKind.ESCALATE, id="mastodon:109:esc:1")
    await sink.send(escalate, first)
    await sink.send(escalate, first)
    assert len(fake.tagged(TAG)) == 1 and len(fake.tickets[int(first or 0)].notes) == 1


async def test_closed_status_option_and_a_closed_ticket_gets_a_new_one(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = freshdesk
    sink = sink_for(server, session, clock, solved_status=5)
    ref = await sink.send(make_event(), None)
    await sink.send(make_event(EventKind.REPLIED, response_seconds=60.0), ref)
    assert fake.tickets[int(ref or 0)].status == 5
    again = await sink.send(make_event(id="mastodon:109:r2:breach"), f"{ref}:solved")
    assert again not in (None, ref) and len(fake.tagged(TAG)) == 2


async def test_nothing_is_opened_for_events_that_do_not_open_tickets(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = freshdesk
    sink = sink_for(server, session, clock)
    assert not sink.accepts(make_event(EventKind.WARN)) and not sink.accepts(make_event(EventKind.SOURCE))
    assert await sink.send(make_event(EventKind.REPLIED, response_seconds=9.0), None) is None
    assert fake.tickets == {}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


async def test_hostile_text_is_escaped_in_tickets_and_notes(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = freshdesk
    sink = sink_for(server, session, clock)
    hostile = '<svg onload=alert(1)> **x** {{ticket.requester.email}} <a href="javascript:y">z</a>'
    ref = await sink.send(make_event(text=hostile, author="<script>1</script>"), None)
    await sink.send(make_event(EventKind.ACTION, id="mastodon:109:assign", state=f"assigned to {hostile}"), ref)
    ticket = fake.tickets[int(ref or 0)]
    for html in (ticket.description, ticket.notes[0]["body"]):
        parser = Tags()
        parser.feed(html)
        assert parser.tags <= {"p", "strong", "table", "tr", "th", "td", "blockquote", "br", "a"}, parser.tags
        assert parser.hrefs == ["https://example.social/@dana/109"]  # only the post's own link
        assert "&lt;svg onload=alert(1)&gt;" in html


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        (Scripted(429, json_body={"message": "too many"}, headers={"Retry-After": "61"}), False, 61.0),
        (Scripted(502, text="Bad Gateway"), False, None),
        (Scripted(400, json_body={"description": "Validation failed", "errors": [
            {"field": "email", "message": "There is no contact matching the given email", "code": "invalid_value"}]}),
         True, None),
    ],
)
async def test_api_errors(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    answer: Scripted, permanent: bool, retry_after: float | None,
) -> None:
    fake, server = freshdesk
    fake.answer_next(answer)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock).send(make_event(), None)
    assert (info.value.permanent, info.value.retry_after) == (permanent, retry_after)
    if answer.status == 400:
        assert "email: There is no contact matching the given email (invalid_value)" in str(info.value)


async def test_a_wrong_key_is_permanent_and_never_shown(
    freshdesk: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, server = freshdesk
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock, api_key="WRONGkeyVALUE").send(make_event(), None)
    assert info.value.permanent and "invalid_credentials" in str(info.value)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "WRONGkeyVALUE" not in str(info.value) + ours


def test_config() -> None:
    settings = FreshdeskSettings(domain="acme", api_key="k", requester_email="s@acme.example")
    assert settings.root == "https://acme.freshdesk.com" and settings.configured
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"freshdesk": {"domain": "acme", "api_key": "k"}}})
    assert any(p.startswith("alerts.freshdesk") and "requester_email" in p for p in info.value.problems)
    assert len(case_tag("x" * 500)) <= 32


async def test_registry(session: aiohttp.ClientSession) -> None:
    on = AlertSettings.model_validate({"freshdesk": {"domain": "acme", "api_key": "k",
                                                     "requester_email": "s@acme.example"}})
    assert [s.name for s in build_sinks(on, session)] == ["freshdesk"]
