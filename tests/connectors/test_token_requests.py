"""OAuth token requests go through `connectors._http.request`: body limit, User-Agent, error mapping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors import _http
from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.google_play import GooglePlayConfig, GooglePlayConnector
from connectors.reddit import RedditConfig, RedditConnector
from listener import USER_AGENT
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError

BRANDS = [BrandView(name="acme", keywords=("acme",))]
LIMIT = 4096  # MAX_BODY for these tests: the oversized answer stays small enough to be cheap


class TokenEndpoint:
    """A token endpoint that answers every POST with `status` and `body`, and logs what it got."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = json.dumps({"access_token": "tok", "expires_in": 3600}).encode()
        self.headers: dict[str, str] = {}
        self.seen: list[tuple[dict[str, str], dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.seen.append((dict(request.headers), form))
        return web.Response(status=self.status, body=self.body, content_type="application/json", headers=self.headers)


@pytest.fixture
async def endpoint(aiohttp_server) -> AsyncIterator[tuple[TokenEndpoint, str]]:  # type: ignore[no-untyped-def]
    fake = TokenEndpoint()
    app = web.Application()
    app.router.add_post("/token", fake.handle)
    server = await aiohttp_server(app)
    yield fake, str(server.make_url("/token"))


def oversized() -> bytes:
    """A well-formed token answer padded past LIMIT (a broken or hostile server)."""
    return json.dumps({"access_token": "tok", "expires_in": 3600, "padding": "x" * (2 * LIMIT)}).encode()


def reddit(url: str, session: aiohttp.ClientSession, clock: FakeClock) -> RedditConnector:
    config = RedditConfig(base_url=url.rsplit("/", 1)[0], token_url=url, client_id="cid", client_secret="csecret",
                          search=("acme",), brand_comments=False)
    return RedditConnector("reddit", config, BRANDS, session, clock=clock)


def play(url: str, session: aiohttp.ClientSession, clock: FakeClock) -> GooglePlayConnector:
    config = GooglePlayConfig(package_name="com.acme.app", brand="acme", base_url=url.rsplit("/", 1)[0],
                              client_id="cid", client_secret="csecret", refresh_token="rtok", token_url=url)
    return GooglePlayConnector("play", config, BRANDS, session, clock=clock)


async def reddit_token(url: str, session: aiohttp.ClientSession, clock: FakeClock) -> Any:
    return await reddit(url, session, clock)._auth_headers()


async def play_token(url: str, session: aiohttp.ClientSession, clock: FakeClock) -> Any:
    return await play(url, session, clock).tokens.token()


FETCHERS = [pytest.param(reddit_token, id="reddit"), pytest.param(play_token, id="google")]


@pytest.mark.parametrize("fetch", FETCHERS)
async def test_a_token_answer_over_the_body_limit_is_refused(  # type: ignore[no-untyped-def]
        fetch, endpoint, session, clock, monkeypatch) -> None:
    fake, url = endpoint
    monkeypatch.setattr(_http, "MAX_BODY", LIMIT)
    fake.body = oversized()
    with pytest.raises(MalformedResponseError, match=f"exceeds {LIMIT}"):
        await fetch(url, session, clock)


@pytest.mark.parametrize("fetch", FETCHERS)
async def test_token_requests_are_forms_that_name_us(fetch, endpoint, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = endpoint
    await fetch(url, session, clock)
    headers, form = fake.seen[0]
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["grant_type"] in ("client_credentials", "refresh_token")


async def test_reddit_sends_its_client_credentials_as_basic_auth(endpoint, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = endpoint
    await reddit_token(url, session, clock)
    headers, _ = fake.seen[0]
    assert headers["Authorization"] == "Basic " + "Y2lkOmNzZWNyZXQ="  # base64("cid:csecret")


async def test_a_refused_google_grant_names_the_reason(endpoint, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = endpoint
    fake.status, fake.body = 400, json.dumps({"error": "invalid_grant", "error_description": "Bad Request"}).encode()
    with pytest.raises(SourceAuthError, match=r"HTTP 400: token request refused \(invalid_grant: Bad Request\)"):
        await play_token(url, session, clock)


@pytest.mark.parametrize("fetch", FETCHERS)
async def test_a_busy_token_endpoint_is_retried_after_its_wait(  # type: ignore[no-untyped-def]
        fetch, endpoint, session, clock) -> None:
    fake, url = endpoint
    fake.status, fake.body, fake.headers = 503, b"busy", {"Retry-After": "120"}
    with pytest.raises(TransientSourceError) as caught:
        await fetch(url, session, clock)
    assert caught.value.retry_after == 120
