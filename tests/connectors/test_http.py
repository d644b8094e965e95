"""The shared HTTP layer: headers sent, JSON decoded, every failure mapped to listener.errors."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from connectors._http import (
    USER_AGENT,
    MalformedResponseError,
    RateLimitHeaders,
    describe,
    parse_link_header,
    parse_retry_after,
    query_param,
    request,
)
from listener.errors import SourceAuthError, SourceError, TransientSourceError

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SECRET = "sekrit-token-value-123"


def _now() -> datetime:
    return NOW


@dataclass
class Answer:
    """What the test server sends next."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay_headers: float = 0.0
    delay_body: float = 0.0


@pytest.fixture
async def server(aiohttp_server):  # type: ignore[no-untyped-def]
    """A server that sends whatever `answer(...)` set last; it records request headers."""
    state: dict[str, Any] = {"seen": [], "answer": Answer()}

    async def handler(request: web.Request) -> web.StreamResponse:
        state["seen"].append(CIMultiDict(request.headers))
        answer: Answer = state["answer"]
        if answer.delay_headers:
            await asyncio.sleep(answer.delay_headers)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        response.content_length = len(answer.body)
        await response.prepare(request)
        body = answer.body
        if answer.delay_body:
            await response.write(body[:1])
            await asyncio.sleep(answer.delay_body)
            body = body[1:]
        await response.write(body)
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    srv = await aiohttp_server(app)

    def answer(**kwargs: Any) -> None:
        state["answer"] = Answer(**kwargs)

    return srv, answer, state


async def _get(session: aiohttp.ClientSession, srv, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("now", _now)
    return await request(session, "GET", str(srv.make_url("/api/v1/thing")), **kwargs)


async def test_sends_user_agent_and_auth_and_decodes_json(server, session) -> None:  # type: ignore[no-untyped-def]
    srv, answer, state = server
    answer(body=b'{"ok": [1, 2]}', headers={"Link": '<https://x.example/a?max_id=5>; rel="next"'})
    resp = await _get(session, srv, headers={"Authorization": f"Bearer {SECRET}"}, params={"q": "acme"})
    assert resp.status == 200
    assert resp.data == {"ok": [1, 2]}
    assert resp.links() == {"next": "https://x.example/a?max_id=5"}
    seen = state["seen"][0]
    assert seen["User-Agent"] == USER_AGENT
    assert seen["Authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors(server, session, status: int, caplog) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(status=status, body=b'{"error": "The access token is invalid"}')
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceAuthError) as info:
        await _get(session, srv, headers={"Authorization": f"Bearer {SECRET}"}, params={"access_token": SECRET})
    assert f"HTTP {status}" in str(info.value)
    assert "access token is invalid" in str(info.value)
    assert SECRET not in str(info.value)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp")]  # not the fake's access log
    assert all(SECRET not in message for message in ours)


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_other_client_errors_are_permanent(server, session, status: int) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(status=status, body=b'{"error": "Record not found"}')
    with pytest.raises(SourceError) as info:
        await _get(session, srv)
    assert not isinstance(info.value, TransientSourceError)
    assert "Record not found" in str(info.value)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "30"}, 30.0),
        (503, {"Retry-After": "Mon, 05 Jan 2026 10:02:00 GMT"}, 120.0),
        (429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-01-05T10:05:00.000000Z"}, 300.0),
        # Retry-After wins over the reset header.
        (429, {"Retry-After": "7", "X-RateLimit-Reset": "2026-01-05T10:05:00.000000Z"}, 7.0),
        # A 503 while calls remain: the window's reset time is not a reason to wait.
        (503, {"X-RateLimit-Remaining": "200", "X-RateLimit-Reset": "2026-01-05T10:05:00.000000Z"}, None),
        (502, {}, None),
        (408, {}, None),
    ],
)
async def test_transient_errors_with_retry_after(server, session, status, headers, retry_after) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(status=status, body=b'{"error": "Too many requests"}', headers=headers)
    with pytest.raises(TransientSourceError) as info:
        await _get(session, srv, rate_limit=RateLimitHeaders())
    assert info.value.retry_after == retry_after


@pytest.mark.parametrize("body", [b"<html>Bad gateway</html>", b'{"statuses": [', b"", b"\xff\xfe"])
async def test_malformed_json_is_transient(server, session, body: bytes) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(body=body)
    with pytest.raises(MalformedResponseError):
        await _get(session, srv)


async def test_slow_headers_time_out(server, session) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(delay_headers=5)
    with pytest.raises(TransientSourceError, match="no complete answer within 0.05s"):
        await _get(session, srv, timeout=0.05)


async def test_slow_body_times_out_too(server, session) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(body=b'{"a": 1}', delay_body=5)
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await _get(session, srv, timeout=0.05)


async def test_connection_refused_is_transient(unused_tcp_port: int, session) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{unused_tcp_port}/api"
    with pytest.raises(TransientSourceError, match="ClientConnectorError"):
        await request(session, "GET", url, timeout=2)


async def test_ok_statuses_are_returned_undecoded(server, session) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(status=404, body=b'{"error": "Record not found"}')
    resp = await _get(session, srv, ok_statuses=frozenset({404}))
    assert resp.status == 404
    assert resp.data is None


async def test_text_mode_skips_json(server, session) -> None:  # type: ignore[no-untyped-def]
    srv, answer, _ = server
    answer(body="<rss>ü</rss>".encode())
    resp = await _get(session, srv, expect_json=False)
    assert resp.text() == "<rss>ü</rss>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Mon, 05 Jan 2026 10:00:30 GMT", 30.0),
        ("Mon, 05 Jan 2026 09:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_rate_limit_flavours() -> None:
    mastodon = RateLimitHeaders()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-01-05T10:01:00.000000Z"}
    assert mastodon.exhausted_for(headers, NOW) == 60.0
    assert mastodon.exhausted_for({**headers, "X-RateLimit-Remaining": "12"}, NOW) is None
    # GoToSocial and X send epoch seconds instead of ISO.
    epoch = str(int(NOW.timestamp()) + 90)
    assert mastodon.exhausted_for({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": epoch}, NOW) == 90.0
    # Reddit: remaining is a float string and reset counts seconds.
    reddit = RateLimitHeaders(remaining="x-ratelimit-remaining", reset="x-ratelimit-reset", reset_is_delta=True)
    assert reddit.exhausted_for({"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "42"}, NOW) == 42.0
    assert mastodon.seconds_until_reset({"X-RateLimit-Reset": "garbage"}, NOW) is None


def test_parse_link_header() -> None:
    value = (
        '<https://mastodon.example/api/v1/notifications?max_id=34975535>; rel="next", '
        '<https://mastodon.example/api/v1/notifications?min_id=34975861&types[]=a,b>; rel="prev"'
    )
    links = parse_link_header(value)
    assert query_param(links["next"], "max_id") == "34975535"
    assert query_param(links["prev"], "min_id") == "34975861"
    assert parse_link_header("") == {}


def test_describe_hides_the_query() -> None:
    assert describe("get", "https://api.example/v3/items?key=SECRET&q=x") == "GET api.example/v3/items"
