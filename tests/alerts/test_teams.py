"""The Teams sink against a loopback Workflows trigger: cards, later states, hostile text, errors, routes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from alerts import build_sinks
from alerts.base import Event, EventKind
from alerts.teams import TeamsSink
from config.loader import parse_config
from config.schema import AlertSettings
from config.sinks import TeamsSettings
from listener.clock import FakeClock
from listener.errors import ConfigError, SinkError
from listener.events import Policy
from tests.alerts.conftest import NOW
from tests.alerts.fake_http import Scripted
from tests.alerts.fake_teams import PATH, QUERY, SIG, FakeWorkflow

Fake = tuple[FakeWorkflow, TestServer]
HOSTILE = ("**bold** _it_ [click me](https://evil.example/x) ![img](https://evil.example/i.png) "
           "<at>General</at> @channel\n# Heading\n- item\n1. first \u202eevil\u202c \x1b[31mred")


@pytest.fixture
async def workflow(aiohttp_server: Callable[..., Any]) -> Fake:
    fake = FakeWorkflow()
    return fake, await aiohttp_server(fake.app())


def url(server: TestServer, path: str = PATH, query: str = QUERY) -> str:
    return f"{server.make_url(path)}?{query}"


def sink_for(server: TestServer, session: aiohttp.ClientSession, clock: FakeClock, **overrides: Any) -> TeamsSink:
    return TeamsSink(TeamsSettings(webhook_url=url(server), timeout="5s", **overrides), session, clock=clock)


def card(message: dict[str, Any]) -> dict[str, Any]:
    return message["attachments"][0]["content"]


def markdown_texts(node: Any) -> list[str]:
    """Texts Teams renders as Markdown: TextBlock text and FactSet titles/values."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "FactSet":
            found += [v for f in node["facts"] for v in (f["title"], f["value"])]
        for value in node.values():
            found += markdown_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += markdown_texts(value)
    return found


def runs(node: Any) -> list[str]:
    """Texts of every TextRun (plain text by the schema)."""
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "TextRun" else []
        return own + [t for v in node.values() for t in runs(v)]
    if isinstance(node, list):
        return [t for v in node for t in runs(v)]
    return []


async def test_posts_an_adaptive_card_with_the_facts_and_an_open_post_action(
    workflow: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = workflow
    ref = await sink_for(server, session, clock).send(make_event(EventKind.BREACH), None)
    assert fake.problems == []
    [message] = fake.cards
    content = card(message)
    assert content["body"][0] == {"type": "TextBlock", "text": "Response deadline missed", "weight": "Bolder",
                                  "size": "Medium", "wrap": True, "color": "Attention"}
    text = " ".join(runs(content))
    for expected in ("Brand: ", "acme", "Author: ", "@\u2060dana@\u2060example.social", "negative (complaint 93%)",
                     "Deadline: ", "2026-01-05 09:59 UTC (1m overdue)", "breached",
                     "My acme router dropped the connection again, third time today."):
        assert expected in text, expected
    assert content["actions"] == [{"type": "Action.OpenUrl", "title": "Open post",
                                   "url": "https://example.social/@dana/109"}]
    assert ref == "teams:Breach 10:00 UTC"


async def test_later_events_post_a_card_with_the_updated_state_and_the_history(
    workflow: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = workflow
    sink = sink_for(server, session, clock)
    ref = await sink.send(make_event(EventKind.WARN, created_at=NOW - timedelta(minutes=15)), None)
    ref = await sink.send(make_event(EventKind.BREACH), ref)
    ref = await sink.send(make_event(EventKind.REPLIED, response_seconds=4320.0, state="replied",
                                     created_at=NOW + timedelta(minutes=12)), ref)
    assert len(fake.cards) == 3  # a workflow cannot edit: one card per event
    last = card(fake.cards[-1])
    assert last["body"][0]["text"] == "Complaint answered" and last["body"][0]["color"] == "Good"
    text = " ".join(runs(last))
    assert "replied after 1h 12m (12m late)" in text
    assert "Earlier in this case: " in text and "Warn 09:45 UTC · Breach 10:00 UTC" in text
    assert ref == "teams:Warn 09:45 UTC · Breach 10:00 UTC · Replied 10:12 UTC"


async def test_hostile_text_is_never_markdown_and_never_a_mention_or_link(
    workflow: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = workflow
    event = make_event(EventKind.ACTION, text=HOSTILE, author="[boss](https://evil.example) **@here**",
                       brand="acme *inc*", state="assigned to <at>everyone</at> [x](javascript:alert(1))",
                       url="javascript:alert(document.cookie)")
    await sink_for(server, session, clock).send(event, None)
    assert fake.problems == []
    content = card(fake.cards[0])
    # Only our own fixed titles go where Markdown is rendered.
    assert markdown_texts(content) == ["Complaint updated"]
    every_run = "\n".join(runs(content))
    assert "**bold** _it_ [click me](https://evil.example/x)" in every_run  # shown literally, as plain text
    assert "@channel" not in every_run and "@\u2060channel" in every_run
    assert "\u202e" not in every_run and "\x1b" not in every_run
    assert "actions" not in content  # a javascript: URL is never a link
    raw = json.dumps(fake.cards[0])
    assert "msteams" in raw and "entities" not in raw  # no <at> mention can resolve


async def test_long_text_is_cut_to_fit_a_teams_message(
    workflow: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = workflow
    await sink_for(server, session, clock).send(make_event(text="very long complaint " * 5000), None)
    assert fake.problems == [] and len(fake.cards) == 1
    assert any(t.endswith("…") and len(t) <= 2000 for t in runs(card(fake.cards[0])))


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        (Scripted(429, json_body={"error": {"code": "WorkflowRequestsThrottled", "message": "slow"}},
                  headers={"Retry-After": "17"}), False, 17.0),
        (Scripted(502, json_body={"error": {"code": "BadGateway", "message": "x"}}), False, None),
        (Scripted(400, json_body={"error": {"code": "InvalidRequestContent", "message": "x"}}), True, None),
        (Scripted(404, json_body={"error": {"code": "WorkflowNotFound", "message": "x"}}), True, None),
    ],
)
async def test_workflow_errors(
    workflow: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    answer: Scripted, permanent: bool, retry_after: float | None,
) -> None:
    fake, server = workflow
    fake.answer_next(answer)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock).send(make_event(), None)
    assert (info.value.permanent, info.value.retry_after) == (permanent, retry_after)
    code = answer.json_body["error"]["code"]
    assert code in str(info.value)


async def test_a_wrong_signature_is_permanent_and_never_logged(
    workflow: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, server = workflow
    caplog.set_level(logging.DEBUG)
    wrong = TeamsSink(TeamsSettings(webhook_url=url(server, query="sig=WRONGsecret")), session, clock=clock)
    with pytest.raises(SinkError) as info:
        await wrong.send(make_event(), None)
    assert info.value.permanent and "DirectApiAuthorizationRequired" in str(info.value)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")  # not the fake's log
    assert "WRONGsecret" not in str(info.value) + ours and SIG not in ours


async def test_routes_pick_the_workflow_and_digests_go_to_the_route(
    aiohttp_server: Callable[..., Any], session: aiohttp.ClientSession, clock: FakeClock,
    make_event: Callable[..., Event],
) -> None:
    main, vip = FakeWorkflow(), FakeWorkflow()
    main_server, vip_server = await aiohttp_server(main.app()), await aiohttp_server(vip.app())
    sink = TeamsSink(TeamsSettings(webhook_url=url(main_server), routes=[
        {"policies": ["vip*"], "webhook_url": url(vip_server), "label": "vip-channel"}]), session, clock=clock)
    vip_event = make_event(policy=Policy(name="vip-gold"))
    assert sink.channel_for(vip_event) == "vip-channel" and sink.channel_for(make_event()) == "teams"
    assert sink.max_in_flight == 1
    await sink.send(vip_event, None)
    await sink.send(make_event(id="other:breach", thread="other"), None)
    assert len(vip.cards) == 1 and len(main.cards) == 1
    await sink.send_digest("vip-channel", [vip_event, make_event(id="x:warn", kind=EventKind.WARN)],
                           ["quiet_hours"], "digest:1")
    assert len(vip.cards) == 2 and vip.problems == []
    digest = card(vip.cards[1])
    assert digest["body"][0]["text"] == "2 alerts held during quiet hours"
    assert markdown_texts(digest) == ["2 alerts held during quiet hours"]


async def test_accepts_alerts_but_not_mentions_or_unalerted_replies(
    session: aiohttp.ClientSession, make_event: Callable[..., Event]
) -> None:
    sink = TeamsSink(TeamsSettings(webhook_url="https://prod.example/workflows/x", kinds=["breach", "replied"]),
                     session)
    assert sink.accepts(make_event(EventKind.BREACH))
    assert not sink.accepts(make_event(EventKind.MENTION)) and not sink.accepts(make_event(EventKind.WARN))
    assert not sink.accepts(make_event(EventKind.REPLIED, policy=Policy(), alerted=False))


async def test_config_and_registry(session: aiohttp.ClientSession) -> None:
    settings = AlertSettings.model_validate({"teams": {"webhook_url": "https://x.example/w"}})
    assert [s.name for s in build_sinks(settings, session)] == ["teams"]
    assert build_sinks(AlertSettings.model_validate({"teams": {"webhook_url": ""}}), session) == []
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"teams": {"webhook_url": "https://x.example/w", "routes": [{"webhook_url": "nope"}]}}})
    assert any(p.startswith("alerts.teams") and "routes[1]" in p for p in info.value.problems), info.value.problems
