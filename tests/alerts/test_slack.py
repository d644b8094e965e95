"""SlackSink against the loopback fake Slack: post/update, webhook, errors, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from alerts.base import Event, EventKind
from alerts.slack import SlackSink, parse_retry_after
from config.schema import SlackSettings
from listener.clock import FakeClock
from listener.errors import ConfigError, SinkError
from tests.alerts.conftest import NOW
from tests.alerts.fake_slack import CHANNEL_ID, TOKEN, WEBHOOK_PATH, FakeSlack, Scripted

Fake = tuple[FakeSlack, TestServer]


def bot_settings(server: TestServer, **overrides: Any) -> SlackSettings:
    """Bot-token settings pointing at the fake (channel given by name, as users write it)."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "channel": "#brand-alerts",
        "base_url": str(server.make_url("/api/")),
        "timeout": "5s",
    }
    values.update(overrides)
    return SlackSettings(**values)


def hook_settings(server: TestServer, **overrides: Any) -> SlackSettings:
    """Webhook settings pointing at the fake."""
    return SlackSettings(webhook_url=str(server.make_url(WEBHOOK_PATH)), timeout="5s", **overrides)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text string inside Block Kit blocks."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def only_message(fake: FakeSlack) -> dict[str, Any]:
    """The one message the fake holds."""
    assert len(fake.messages) == 1, fake.messages
    return next(iter(fake.messages.values()))


# ---- bot token mode -----------------------------------------------------------------------


async def test_post_then_update_the_same_message(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], clock: FakeClock
) -> None:
    fake, server = fake_slack
    sink = SlackSink(bot_settings(server), session, clock=clock)
    assert sink.mode == "bot"

    ref = await sink.send(make_event(EventKind.WARN, deadline=NOW + timedelta(minutes=15)), None)
    assert ref is not None
    channel, _, ts = ref.partition(":")
    assert channel == CHANNEL_ID  # the id Slack returned, not "#brand-alerts"
    assert fake.calls[-1].endpoint == "chat.postMessage"
    assert fake.calls[-1].body["channel"] == "#brand-alerts"

    clock.advance(timedelta(minutes=16))
    ref2 = await sink.send(make_event(EventKind.BREACH), ref)
    clock.advance(timedelta(minutes=11))
    replied = make_event(EventKind.REPLIED, response_seconds=72 * 60.0)
    ref3 = await sink.send(replied, ref2)

    assert ref2 == ref3 == ref
    assert [call.endpoint for call in fake.calls] == ["chat.postMessage", "chat.update", "chat.update"]
    assert all(call.body["ts"] == ts for call in fake.calls[1:])
    assert fake.problems == []
    message = only_message(fake)
    shown = "\n".join(texts(message["blocks"]))
    assert "Complaint answered" in shown
    assert "replied after 1h 12m (12m late)" in shown


async def test_message_shows_the_facts(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], clock: FakeClock
) -> None:
    fake, server = fake_slack
    await SlackSink(bot_settings(server), session, clock=clock).send(make_event(EventKind.BREACH), None)
    message = only_message(fake)
    shown = "\n".join(texts(message["blocks"]))
    for expected in (
        "Response deadline missed · acme",  # title and brand
        "*Source*\nmastodon",
        "dana",  # author (its @ is defused)
        "My acme router dropped the connection again",
        "<https://example.social/@dana/109>",
        "negative (complaint 93%)",
        "2026-01-05 08:59 UTC (1h 01m ago)",  # posted, with the age
        "2026-01-05 09:59 UTC (1m overdue)",  # deadline
        "*State*\nbreached",
    ):
        assert expected in shown, expected
    buttons = [el for block in message["blocks"] if block["type"] == "actions" for el in block["elements"]]
    assert [b["action_id"] for b in buttons] == [
        "listener_ack", "listener_assign", "listener_snooze", "listener_not_complaint", "listener_replied",
        "listener_open_mention",
    ]
    assert all(b["value"] == "mastodon:109" for b in buttons[:5])
    assert buttons[-1]["url"] == "https://example.social/@dana/109"
    assert "Response deadline missed" in message["text"]  # the notification fallback


async def test_update_of_a_deleted_message_posts_a_new_one(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], clock: FakeClock
) -> None:
    fake, server = fake_slack
    sink = SlackSink(bot_settings(server), session, clock=clock)
    ref = await sink.send(make_event(EventKind.BREACH), f"{CHANNEL_ID}:1234.000001")
    assert [call.endpoint for call in fake.calls] == ["chat.update", "chat.postMessage"]
    assert ref is not None and ref != f"{CHANNEL_ID}:1234.000001"
    assert (CHANNEL_ID, ref.partition(":")[2]) in fake.messages


async def test_wrong_token_is_a_permanent_error(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event]
) -> None:
    fake, server = fake_slack
    sink = SlackSink(bot_settings(server, bot_token="xoxb-wrong"), session)
    with pytest.raises(SinkError) as caught:
        await sink.send(make_event(), None)
    assert caught.value.permanent
    assert "invalid_auth" in str(caught.value)
    assert fake.calls[0].authorization == "Bearer xoxb-wrong"


@pytest.mark.parametrize(
    ("error", "permanent"),
    [("channel_not_found", True), ("not_in_channel", True), ("missing_scope", True), ("internal_error", False)],
)
async def test_ok_false_errors(
    fake_slack: Fake,
    session: aiohttp.ClientSession,
    make_event: Callable[..., Event],
    error: str,
    permanent: bool,
) -> None:
    fake, server = fake_slack
    fake.answer_next(Scripted(json_body={"ok": False, "error": error}))
    with pytest.raises(SinkError) as caught:
        await SlackSink(bot_settings(server), session).send(make_event(), None)
    assert caught.value.permanent is permanent
    assert error in str(caught.value)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("mode", ["bot", "webhook"])
async def test_429_gives_retry_after_and_nothing_is_lost(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], mode: str
) -> None:
    fake, server = fake_slack
    settings = bot_settings(server) if mode == "bot" else hook_settings(server)
    sink = SlackSink(settings, session)
    fake.answer_next(Scripted(status=429, text="", content_type="text/plain", headers={"Retry-After": "7"}))
    event = make_event()
    with pytest.raises(SinkError) as caught:
        await sink.send(event, None)
    assert caught.value.retry_after == 7
    assert not caught.value.permanent
    assert not fake.messages and not fake.webhook_posts
    # The dispatcher retries later: the same event then goes through.
    await sink.send(event, None)
    assert len(fake.messages) + len(fake.webhook_posts) == 1


async def test_retry_after_as_http_date(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], clock: FakeClock
) -> None:
    fake, server = fake_slack
    fake.answer_next(
        Scripted(
            status=429,
            json_body={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": "Mon, 05 Jan 2026 10:01:30 GMT"},
        )
    )
    with pytest.raises(SinkError) as caught:
        await SlackSink(bot_settings(server), session, clock=clock).send(make_event(), None)
    assert caught.value.retry_after == 90


@pytest.mark.parametrize("mode", ["bot", "webhook"])
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], mode: str, status: int
) -> None:
    fake, server = fake_slack
    settings = bot_settings(server) if mode == "bot" else hook_settings(server)
    fake.answer_next(Scripted(status=status, text="<html><body>Oops</body></html>", content_type="text/html"))
    with pytest.raises(SinkError) as caught:
        await SlackSink(settings, session).send(make_event(), None)
    assert not caught.value.permanent
    assert str(status) in str(caught.value)


async def test_timeout_is_a_sink_error(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event]
) -> None:
    fake, server = fake_slack
    fake.answer_next(Scripted(json_body={"ok": True}, delay=5))
    with pytest.raises(SinkError) as caught:
        await SlackSink(bot_settings(server, timeout="50ms"), session).send(make_event(), None)
    assert "TimeoutError" in str(caught.value)


async def test_unreachable_slack_is_a_sink_error(
    session: aiohttp.ClientSession, make_event: Callable[..., Event], unused_tcp_port: int
) -> None:
    settings = SlackSettings(
        bot_token=TOKEN, channel="#a", base_url=f"http://127.0.0.1:{unused_tcp_port}/api/", timeout="5s"
    )
    with pytest.raises(SinkError) as caught:
        await SlackSink(settings, session).send(make_event(), None)
    assert not caught.value.permanent


# ---- webhook mode ---------------------------------------------------------------------------


async def test_webhook_posts_every_event_without_buttons(
    fake_slack: Fake, session: aiohttp.ClientSession, make_event: Callable[..., Event], clock: FakeClock
) -> None:
    fake, server = fake_slack
    sink = SlackSink(hook_settings(server), session, clock=clock)
    assert sink.mode == "webhook"
    assert await sink.send(make_event(EventKind.WARN), None) is None
    assert await sink.send(make_event(EventKind.BREACH), None) is None
    assert len(fake.webhook_posts) == 2
    assert fake.problems == []
    for post in fake.webhook_posts:
        assert all(block["type"] != "actions" for block in post["blocks"])
        assert post["text"]
        assert post["unfurl_links"] is False
    assert "Response deadline missed" in fake.webhook_posts[1]["text"]


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [(404, "channel_not_found", True), (410, "channel_is_archived", True), (403, "action_prohibited", True)],
)
async def test_webhook_client_errors_are_permanent(
    fake_slack: Fake,
    session: aiohttp.ClientSession,
    make_event: Callable[..., Event],
    status: int,
    body: str,
    permanent: bool,
) -> None:
    fake, server = fake_slack
    fake.answer_next(Scripted(status=status, text=body, content_type="text/plain"))
    with pytest.raises(SinkError) as caught:
        await SlackSink(hook_settings(server), session).send(make_event(), None)
    assert caught.value.permanent is permanent
    assert body in str(caught.value)


# ---- accepts, config, secrets -----------------------------------------------------------------


async def test_accepts_configured_kinds_but_never_mentions(
    session: aiohttp.ClientSession, make_event: Callable[..., Event]
) -> None:
    sink = SlackSink(SlackSettings(webhook_url="http://127.0.0.1:9/hook", kinds=["breach", "replied"]), session)
    assert sink.accepts(make_event(EventKind.BREACH))
    assert sink.accepts(make_event(EventKind.REPLIED))
    assert not sink.accepts(make_event(EventKind.WARN))
    assert not sink.accepts(make_event(EventKind.SOURCE))
    default = SlackSink(SlackSettings(webhook_url="http://127.0.0.1:9/hook"), session)
    assert not default.accepts(make_event(EventKind.MENTION))
    assert default.accepts(make_event(EventKind.SOURCE))


async def test_needs_a_webhook_or_a_token(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ConfigError):
        SlackSink(SlackSettings(), session)


@pytest.mark.parametrize("mode", ["bot", "webhook"])
async def test_secrets_never_appear_in_logs_or_errors(
    fake_slack: Fake,
    session: aiohttp.ClientSession,
    make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    fake, server = fake_slack
    caplog.set_level(logging.DEBUG)
    settings = bot_settings(server) if mode == "bot" else hook_settings(server)
    sink = SlackSink(settings, session)
    errors: list[str] = []
    ref = await sink.send(make_event(EventKind.WARN), None)
    await sink.send(make_event(EventKind.BREACH), ref)
    for scripted in (
        Scripted(status=429, text="", content_type="text/plain", headers={"Retry-After": "1"}),
        Scripted(status=500, text="<html>boom</html>", content_type="text/html"),
        Scripted(status=404, text="no_service", content_type="text/plain"),
        Scripted(json_body={"ok": False, "error": "invalid_auth"}),
    ):
        fake.answer_next(scripted)
        try:
            await sink.send(make_event(EventKind.BREACH), ref)
        except SinkError as err:
            errors.append(repr(err))
    await server.close()  # now the network itself fails
    try:
        await sink.send(make_event(EventKind.BREACH), None)
    except SinkError as err:
        errors.append(repr(err))
    assert len(errors) == 5
    # The fake server's own access log shows its paths; everything else is the client side.
    client_side = [rec.getMessage() for rec in caplog.records if not rec.name.startswith("aiohttp.access")]
    secret_parts = [TOKEN, "FAKEtokenSECRET", WEBHOOK_PATH, "webhookSECRETpart"]
    haystack = "\n".join(client_side + errors) + repr(sink.__dict__.get("_settings"))
    for secret in secret_parts:
        assert secret not in haystack


# ---- pure helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Mon, 05 Jan 2026 10:00:30 GMT", 30.0),
        ("Mon, 05 Jan 2026 09:00:00 GMT", 0.0),  # in the past: go now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected
