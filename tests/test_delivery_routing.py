"""Routing alerts to Slack channels per brand, policy, source and kind (bot token and per-route webhooks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from alerts.base import Event, EventKind
from alerts.slack import SlackSink
from config.loader import parse_config
from config.schema import SlackSettings
from listener.clock import FakeClock
from listener.errors import ConfigError
from listener.events import Escalation, Policy
from tests.alerts.fake_slack import CHANNEL_ID, TOKEN, WEBHOOK_PATH, FakeSlack

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
BETA_HOOK = "/services/T0FAKE/B0BETA/betaSECRETpart"
ROUTES: list[dict[str, Any]] = [
    {"brands": ["acme"], "policies": ["vip*"], "channel": "#acme-vip"},
    {"kinds": ["source"], "channel": "#ops"},
    {"brands": ["beta"], "sources": ["reviews-*"], "channel": "#beta-reviews"},
]


@pytest.fixture
async def slack(
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[tuple[FakeSlack, TestServer, list[dict[str, Any]]]]:
    """The fake Slack, plus a second incoming webhook (for a route) that records its posts."""
    fake = FakeSlack()
    beta_posts: list[dict[str, Any]] = []

    async def beta(request: web.Request) -> web.Response:
        beta_posts.append(json.loads(await request.text()))
        return web.Response(text="ok", content_type="text/plain")

    app = fake.app()
    app.router.add_post(BETA_HOOK, beta)
    server = await aiohttp_server(app)
    yield fake, server, beta_posts


def make(kind: EventKind = EventKind.BREACH, n: int = 1, **overrides: Any) -> Event:
    """A complaint alert; `policy` names its policy like the store puts it."""
    policy = overrides.pop("policy", "default")
    values: dict[str, Any] = {
        "id": f"m{n}:{kind.value}", "kind": kind, "brand": "acme", "thread": f"m{n}", "created_at": NOW,
        "source": "mastodon", "mention_key": f"m{n}", "author": "@dana", "text": "router down again <!here>",
        "mention_at": NOW - timedelta(minutes=61), "deadline": NOW - timedelta(minutes=1),
        "policy": Policy(name=policy, explain="policy x"), "alerted": True,
    }
    values.update(overrides)
    return Event(**values)


def posted_channels(fake: FakeSlack) -> list[str]:
    return [c.body["channel"] for c in fake.calls if c.endpoint == "chat.postMessage"]


async def test_bot_routes_first_match_wins_else_default(slack: Any) -> None:
    fake, server, _ = slack
    settings = SlackSettings(bot_token=TOKEN, channel="#alerts", base_url=str(server.make_url("/api/")),
                             routes=ROUTES)
    async with aiohttp.ClientSession() as session:
        sink = SlackSink(settings, session, clock=FakeClock(NOW))
        vip = await sink.send(make(policy="vip-customers"), None)
        await sink.send(make(n=2, policy="default"), None)
        await sink.send(make(EventKind.SOURCE, n=3, brand="", source="reddit", detail="credentials rejected"), None)
        await sink.send(make(n=4, brand="beta", source="reviews-play"), None)
        await sink.send(make(n=5, brand="beta", source="mastodon"), None)
        # The answer updates the vip message where it is (chat.update with the ref's channel id).
        await sink.send(make(EventKind.REPLIED, policy="vip-customers", response_seconds=4000.0), vip)
    assert posted_channels(fake) == ["#acme-vip", "#alerts", "#ops", "#beta-reviews", "#alerts"]
    updates = [c.body for c in fake.calls if c.endpoint == "chat.update"]
    assert [(u["channel"], u["ts"]) for u in updates] == [(CHANNEL_ID, vip.split(":")[1])]  # type: ignore[union-attr]
    assert fake.problems == []
    assert sink.channel_for(make(policy="vip")) == "#acme-vip"
    assert sink.channel_for(make(brand="other")) == "#alerts"


async def test_escalation_without_a_message_goes_to_the_routed_channel_and_its_ladder_targets(slack: Any) -> None:
    fake, server, _ = slack
    settings = SlackSettings(bot_token=TOKEN, channel="#alerts", base_url=str(server.make_url("/api/")),
                             routes=ROUTES)
    escalate = make(EventKind.ESCALATE, policy="vip", escalation=Escalation(level="lead", to=("#leads",)))
    home = make(EventKind.ESCALATE, n=2, policy="vip", escalation=Escalation(level="lead", to=("S0LEADS",)))
    async with aiohttp.ClientSession() as session:
        sink = SlackSink(settings, session, clock=FakeClock(NOW))
        await sink.send(escalate, None)  # a channel on the ladder step wins over the route
        await sink.send(home, None)  # only a user group: the copy goes to the routed channel, pinging the group
    assert posted_channels(fake) == ["#leads", "#acme-vip"]
    assert "<!subteam^S0LEADS>" in fake.calls[-1].body["text"]


async def test_webhook_routes_use_their_own_webhook_and_never_buttons(slack: Any) -> None:
    fake, server, beta_posts = slack
    settings = SlackSettings(
        webhook_url=str(server.make_url(WEBHOOK_PATH)),
        routes=[{"brands": ["beta"], "channel": "#beta", "webhook_url": str(server.make_url(BETA_HOOK))}],
    )
    async with aiohttp.ClientSession() as session:
        sink = SlackSink(settings, session, clock=FakeClock(NOW))
        assert await sink.send(make(), None) is None
        assert await sink.send(make(n=2, brand="beta"), None) is None
        assert sink.channel_for(make(brand="beta")) == "#beta"
        assert sink.max_in_flight == 1
    assert len(fake.webhook_posts) == 1 and len(beta_posts) == 1
    for body in (fake.webhook_posts[0], beta_posts[0]):
        assert all(block["type"] != "actions" for block in body["blocks"])
    assert "beta" in json.dumps(beta_posts[0]) and "&lt;!here&gt;" in json.dumps(beta_posts[0])


async def test_bot_mode_route_with_its_own_webhook_posts_there_without_buttons(slack: Any) -> None:
    fake, server, beta_posts = slack
    settings = SlackSettings(bot_token=TOKEN, channel="#alerts", base_url=str(server.make_url("/api/")),
                             routes=[{"brands": ["beta"], "webhook_url": str(server.make_url(BETA_HOOK))}])
    async with aiohttp.ClientSession() as session:
        sink = SlackSink(settings, session, clock=FakeClock(NOW))
        await sink.send(make(n=1, brand="beta"), None)
        await sink.send(make(n=2), None)
    assert len(beta_posts) == 1 and all(b["type"] != "actions" for b in beta_posts[0]["blocks"])
    assert posted_channels(fake) == ["#alerts"]
    assert any(b["type"] == "actions" for b in fake.calls[0].body["blocks"])


async def test_digest_goes_to_its_channel_as_valid_escaped_block_kit(slack: Any) -> None:
    fake, server, _ = slack
    settings = SlackSettings(bot_token=TOKEN, channel="#alerts", base_url=str(server.make_url("/api/")),
                             routes=ROUTES)
    events = [make(n=n, policy="vip", author=f"@u{n}", text=f"<@U123> &broken {n}") for n in range(25)]
    async with aiohttp.ClientSession() as session:
        sink = SlackSink(settings, session, clock=FakeClock(NOW))
        ref = await sink.send_digest("#acme-vip", events, ("quiet_hours",), "digest:#acme-vip:abc")
    assert ref is not None and ref.startswith(CHANNEL_ID + ":")
    body = fake.calls[-1].body
    assert body["channel"] == "#acme-vip" and fake.problems == []  # the fake parses blocks with slack_sdk
    text = json.dumps(body["blocks"], ensure_ascii=False)
    assert "25 alerts held during quiet hours" in text
    assert "&lt;@\u2060U123&gt; &amp;broken 0" in text and "<@U123>" not in text  # escaped, mention defused
    assert "and 5 more" in text


def test_route_config_errors_name_the_route() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"slack": {"webhook_url": "https://hooks.example/x",
                                           "routes": [{"brands": ["acme"], "channel": "#acme"}]}}})
    assert any("alerts.slack" in p and "routes[1]" in p and "webhook_url" in p for p in info.value.problems)
    with pytest.raises(ConfigError):
        parse_config({"alerts": {"slack": {"bot_token": "x", "channel": "#a", "routes": [{"brands": ["acme"]}]}}})


def test_route_webhook_comes_from_the_environment_and_stays_secret() -> None:
    settings = parse_config({"alerts": {"slack": {"bot_token": "x", "channel": "#a", "routes": [
        {"brands": ["beta"], "webhook_url": "${BETA_HOOK}"}]}}}, env={"BETA_HOOK": "https://hooks.example/SECRET"})
    route = settings.alerts.slack.routes[0]
    assert route.webhook_url is not None and route.webhook_url.get_secret_value() == "https://hooks.example/SECRET"
    assert "SECRET" not in repr(settings) and "SECRET" not in str(route)
