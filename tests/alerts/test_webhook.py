"""The generic webhook against a loopback receiver: signed JSON, idempotency key, errors, secrets."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from alerts import build_sinks
from alerts.base import Event, EventKind
from alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSink, sign, verify
from config.loader import parse_config
from config.schema import AlertSettings
from config.sinks import WebhookSettings
from listener.clock import FakeClock
from listener.errors import ConfigError, SinkError
from tests.alerts.conftest import NOW
from tests.alerts.fake_http import Scripted
from tests.alerts.fake_webhook import PATH, SECRET, FakeReceiver

Fake = tuple[FakeReceiver, TestServer]


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Any]) -> Fake:
    fake = FakeReceiver(now=lambda: NOW)
    return fake, await aiohttp_server(fake.app())


def sink_for(server: TestServer, session: aiohttp.ClientSession, clock: FakeClock, **overrides: Any) -> WebhookSink:
    values: dict[str, Any] = {"url": str(server.make_url(PATH)), "secret": SECRET, "timeout": "5s", **overrides}
    return WebhookSink(WebhookSettings(**values), session, clock=clock)


async def test_delivers_signed_json_with_the_event_id_as_idempotency_key(
    receiver: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = receiver
    event = make_event(EventKind.BREACH, text="router <b>down</b> @channel [x](javascript:alert(1))")
    assert await sink_for(server, session, clock).send(event, None) is None
    [body] = fake.accepted
    assert body == {"schema_version": 1, **event.to_dict()}  # the text is data, passed as it is
    request = fake.requests[0]
    assert request.headers["Idempotency-Key"] == "mastodon:109:breach"
    assert request.headers["X-Listener-Event"] == "breach"
    assert request.headers[TIMESTAMP_HEADER] == str(int(NOW.timestamp()))
    # The documented recipe, written out by hand: HMAC-SHA256 over "<timestamp>." + raw body.
    expected = hmac.new(SECRET.encode(), f"{int(NOW.timestamp())}.".encode() + request.raw, hashlib.sha256)
    assert request.headers[SIGNATURE_HEADER] == "v1=" + expected.hexdigest()


def test_verify_refuses_tampering_replays_and_other_secrets() -> None:
    body = b'{"id":"x"}'
    stamp = int(NOW.timestamp())
    good = {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(SECRET.encode(), stamp, body)}
    assert verify(SECRET.encode(), good, body, NOW)
    assert not verify(SECRET.encode(), good, b'{"id":"y"}', NOW)
    assert not verify(b"other", good, body, NOW)
    assert not verify(SECRET.encode(), good, body, NOW + timedelta(minutes=6))  # too old: a replay
    assert not verify(SECRET.encode(), {**good, TIMESTAMP_HEADER: "soon"}, body, NOW)
    assert not verify(SECRET.encode(), {TIMESTAMP_HEADER: str(stamp)}, body, NOW)


async def test_hostile_ids_cannot_inject_headers(
    receiver: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = receiver
    await sink_for(server, session, clock).send(make_event(id="rss:a\r\nX-Evil: 1:breach é"), None)
    request = fake.requests[0]
    assert "X-Evil" not in request.headers
    assert request.headers["Idempotency-Key"] == "rss:a%0D%0AX-Evil:%201:breach%20%C3%A9"
    assert fake.accepted[0]["id"] == "rss:a\r\nX-Evil: 1:breach é"


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after"),
    [
        (Scripted(429, text="slow down", headers={"Retry-After": "42"}), False, 42.0),
        (Scripted(503, text="maintenance", headers={"Retry-After": "7"}), False, 7.0),
        (Scripted(500, text="boom"), False, None),
        (Scripted(408), False, None),
        (Scripted(400, json_body={"error": "bad"}), True, None),
        (Scripted(404, text="no such hook"), True, None),
        (Scripted(301, headers={"Location": "https://elsewhere.example/"}), True, None),
    ],
)
async def test_errors_are_retried_or_permanent_as_the_status_says(
    receiver: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    answer: Scripted, permanent: bool, retry_after: float | None,
) -> None:
    fake, server = receiver
    fake.answer_next(answer)
    with pytest.raises(SinkError) as info:
        await sink_for(server, session, clock).send(make_event(), None)
    assert info.value.permanent is permanent
    assert info.value.retry_after == retry_after
    assert len(fake.requests) == 1  # one attempt per send; a redirect is not followed


async def test_network_errors_never_show_the_url_or_the_secret(
    session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event],
    caplog: pytest.LogCaptureFixture, unused_tcp_port: int,
) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/hook?token=URLSECRET"
    sink = WebhookSink(WebhookSettings(url=url, secret=SECRET, headers={"Authorization": "Bearer HDRSECRET"}),
                       session, clock=clock)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SinkError) as info:
        await sink.send(make_event(), None)
    assert not info.value.permanent
    for secret in ("URLSECRET", "HDRSECRET", SECRET):
        assert secret not in str(info.value) and secret not in caplog.text


async def test_digest_is_one_signed_document(
    receiver: Fake, session: aiohttp.ClientSession, clock: FakeClock, make_event: Callable[..., Event]
) -> None:
    fake, server = receiver
    sink = sink_for(server, session, clock, noise_controls=True, headers={"Authorization": "Bearer abc"})
    assert sink.noise_controls is True
    events = [make_event(id="a:breach"), make_event(id="b:breach", thread="b")]
    await sink.send_digest("webhook", events, ["quiet_hours"], "digest:webhook:1")
    [body] = fake.accepted
    assert body["kind"] == "digest" and body["id"] == "digest:webhook:1" and body["reasons"] == ["quiet_hours"]
    assert [e["id"] for e in body["events"]] == ["a:breach", "b:breach"]
    assert fake.requests[0].headers["Authorization"] == "Bearer abc"
    assert fake.requests[0].headers["Idempotency-Key"] == "digest:webhook:1"


async def test_accepts_the_configured_kinds_only(
    session: aiohttp.ClientSession, make_event: Callable[..., Event]
) -> None:
    sink = WebhookSink(WebhookSettings(url="https://h.example/x", secret="s", kinds=["breach", "mention"]), session)
    assert sink.accepts(make_event(EventKind.BREACH)) and sink.accepts(make_event(EventKind.MENTION))
    assert not sink.accepts(make_event(EventKind.WARN))
    default = WebhookSink(WebhookSettings(url="https://h.example/x", secret="s"), session)
    assert default.accepts(make_event(EventKind.WARN)) and not default.accepts(make_event(EventKind.MENTION))
    assert default.noise_controls is False


def test_config_requires_a_signing_secret_and_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"alerts": {"webhook": {"url": "https://hooks.example/x"}}})
    assert any(p.startswith("alerts.webhook") and "secret" in p for p in info.value.problems), info.value.problems
    with pytest.raises(ConfigError):
        parse_config({"alerts": {"webhook": {"url": "ftp://hooks.example/x", "secret": "s"}}})
    # An unset ${VAR:-} URL leaves the sink off, secret or not.
    assert not parse_config({"alerts": {"webhook": {"url": ""}}}).alerts.webhook.configured


async def test_build_sinks_builds_the_webhook_from_the_registry(session: aiohttp.ClientSession) -> None:
    settings = AlertSettings.model_validate({"webhook": {"url": "https://h.example/x", "secret": "s"},
                                             "console": {"enabled": True}})
    assert [s.name for s in build_sinks(settings, session)] == ["webhook", "console"]
