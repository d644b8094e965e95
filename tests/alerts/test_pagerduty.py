"""The PagerDuty sink against a loopback Events API v2: trigger, re-trigger, resolve, routes, errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from alerts import build_sinks
from alerts.base import Event, EventKind
from alerts.pagerduty import PagerDutySink, dedup_key
from config.schema import AlertSettings
from config.sinks import PagerDutySettings
from listener.clock import FakeClock
from listener.errors import SinkError
from listener.events import Policy
from tests.alerts.fake_http import Scripted
from tests.alerts.fake_pagerduty import PATH, ROUTING_KEY, FakePagerDuty

Fake = tuple[FakePagerDuty, TestServer]
VIP_KEY = "V1PKEYsecret00000000000000000000"


@pytest.fixture
async def pagerduty(aiohttp_server: Callable[..., Any]) -> Fake:
    fake = FakePagerDuty(keys=(ROUTING_KEY, VIP_KEY))
    return fake, await aiohttp_server(fake.app())


def sink_for(server: TestServer, session: aiohttp.ClientSession, clock: FakeClock, **overrides: Any) -> PagerDutySink:
    values: dict[str, Any] = {"routing_key": ROUTING_KEY, "url": str(server.make_url(PATH)), "timeout": "5s",
                              "client_url": "https://listener.example/dashboard", **overrides}
    return PagerDutySink(PagerDutySettings(**values), session, clock=clock)


async def test_breach_triggers_escalation_retriggers_and_reply_resolves_one_alert(
    pagerduty: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = pagerduty
    sink = sink_for(server, session, clock)
    ref = await sink.send(make_event(EventKind.BREACH, policy=Policy(name="default")), None)
    assert ref == "pd:pagerduty:triggered"
    ref = await sink.send(make_event(EventKind.ESCALATE, id="mastodon:109:esc:1"), ref)
    ref = await sink.send(make_event(EventKind.REPLIED, response_seconds=4000.0, state="replied"), ref)
    assert ref == "pd:pagerduty:resolved"
    [alert] = fake.alerts
    assert alert.dedup_key == "mastodon:109" and alert.resolved and len(alert.triggers) == 2
    first = alert.triggers[0]
    assert first["event_action"] == "trigger" and first["client"] == "listener"
    assert first["client_url"] == "https://listener.example/dashboard"
    assert first["links"] == [{"href": "https://example.social/@dana/109", "text": "Open post"}]
    payload = first["payload"]
    assert payload["summary"].startswith("Response deadline missed · acme · @dana@example.social: My acme router")
    assert payload["severity"] == "error" and payload["source"] == "listener/mastodon"
    assert payload["component"] == "acme" and payload["group"] == "default" and payload["class"] == "breach"
    assert payload["custom_details"]["event_id"] == "mastodon:109:breach"
    assert alert.triggers[1]["payload"]["severity"] == "critical"  # an escalation
    resolve = fake.requests[-1].body
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "mastodon:109"}


async def test_the_resolve_goes_to_the_service_that_was_paged(
    pagerduty: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = pagerduty
    # The VIP route matches breaches only; the reply must still resolve on the VIP service.
    sink = sink_for(server, session, clock, routes=[
        {"policies": ["vip*"], "kinds": ["breach"], "routing_key": VIP_KEY, "label": "vip"}])
    extra = {"policy": Policy(name="vip-gold"), "alerted": True}
    ref = await sink.send(make_event(EventKind.BREACH, **extra), None)
    assert ref == "pd:vip:triggered" and sink.channel_for(make_event(**extra)) == "vip"
    await sink.send(make_event(EventKind.REPLIED, **extra, response_seconds=10.0), ref)
    [alert] = fake.alerts
    assert alert.routing_key == VIP_KEY and alert.resolved and fake.dropped == []


async def test_a_repeated_trigger_after_a_crash_folds_into_the_open_alert(
    pagerduty: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = pagerduty
    sink = sink_for(server, session, clock)
    await sink.send(make_event(), None)
    await sink.send(make_event(), None)  # sent again: the daemon died before recording the first
    assert len(fake.alerts) == 1


async def test_hostile_text_is_cleaned_and_cut_to_the_limits(
    pagerduty: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = pagerduty
    long_case = "rss:" + "x" * 400
    event = make_event(text="\x1b[2J<script>alert(1)</script>\u202e" + "y" * 3000, thread=long_case,
                       url="javascript:alert(1)")
    await sink_for(server, session, clock).send(event, None)
    [alert] = fake.alerts
    trigger = alert.triggers[0]
    assert len(trigger["payload"]["summary"]) == 1024 and "\x1b" not in trigger["payload"]["summary"]
    assert "\u202e" not in trigger["payload"]["summary"]
    assert "links" not in trigger  # not an http(s) link
    assert alert.dedup_key == dedup_key(long_case) and len(alert.dedup_key) <= 255
    assert dedup_key(long_case) == dedup_key(long_case)  # stable across restarts


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        (Scripted(429, text=""), False, 60.0),
        (Scripted(429, text="", headers={"Retry-After": "5"}), False, 5.0),
        (Scripted(500, text="Internal Server Error"), False, None),
        (Scripted(503, text=""), False, None),
        (Scripted(400, json_body={"status": "invalid event", "message": "Event object is invalid",
                                  "errors": ["'payload.summary' is missing or blank"]}), True, None),
        (Scripted(403, text="Forbidden"), True, None),
    ],
)
async def test_events_api_answers(
    pagerduty: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    answer: Scripted, permanent: bool, retry_after: float | None,
) -> None:
    fake, server = pagerduty
    fake.answer_next(answer)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock).send(make_event(), None)
    assert (info.value.permanent, info.value.retry_after) == (permanent, retry_after)
    if answer.status == 400:
        assert "Event object is invalid; 'payload.summary' is missing or blank" in str(info.value)


async def test_a_malformed_key_is_a_permanent_error_that_never_shows_the_key(
    pagerduty: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, server = pagerduty
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock, routing_key="shortSECRETkey").send(make_event(), None)
    assert info.value.permanent and "routing_key" in str(info.value)
    assert "shortSECRETkey" not in str(info.value) + caplog.text


async def test_accepts_trigger_kinds_and_alerted_replies(
    session: aiohttp.ClientSession, make_event: Callable[..., Event]
) -> None:
    sink = PagerDutySink(PagerDutySettings(routing_key=ROUTING_KEY), session)
    assert sink.accepts(make_event(EventKind.BREACH)) and sink.accepts(make_event(EventKind.ESCALATE))
    assert sink.accepts(make_event(EventKind.REPLIED))
    assert not sink.accepts(make_event(EventKind.REPLIED, policy=Policy(), alerted=False))
    assert not sink.accepts(make_event(EventKind.WARN)) and not sink.accepts(make_event(EventKind.MENTION))
    assert sink.noise_controls is False


async def test_registry_builds_it_only_with_a_routing_key(session: aiohttp.ClientSession) -> None:
    on = AlertSettings.model_validate({"pagerduty": {"routing_key": ROUTING_KEY}})
    assert [s.name for s in build_sinks(on, session)] == ["pagerduty"]
    assert build_sinks(AlertSettings.model_validate({"pagerduty": {"routing_key": ""}}), session) == []
