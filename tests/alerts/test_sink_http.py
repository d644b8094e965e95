"""The HTTP sinks' one request helper: it names us, bounds the answer and hides the URL in errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from alerts import _http
from listener import USER_AGENT
from listener.errors import SinkError


@pytest.fixture
async def server(aiohttp_server) -> AsyncIterator[tuple[list[web.Request], str]]:  # type: ignore[no-untyped-def]
    seen: list[web.Request] = []

    async def small(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"ok": True})

    async def huge(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})  # no length: streamed
        await response.prepare(request)
        for _ in range(8):
            await response.write(b" " * 1024)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/small", small)
    app.router.add_post("/huge", huge)
    running = await aiohttp_server(app)
    yield seen, str(running.make_url("")).rstrip("/")


async def test_sink_requests_carry_our_user_agent(server) -> None:  # type: ignore[no-untyped-def]
    seen, url = server
    async with aiohttp.ClientSession() as session:
        answer = await _http.request(session, "POST", f"{url}/small", what="test sink", timeout=5, body=b"{}")
    assert answer.status == 200 and answer.data == {"ok": True}
    assert seen[0].headers["User-Agent"] == USER_AGENT


async def test_an_answer_over_the_body_limit_is_a_retryable_error_without_the_url(  # type: ignore[no-untyped-def]
        server, monkeypatch) -> None:
    _, url = server
    monkeypatch.setattr(_http, "MAX_BODY", 4096)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SinkError, match="exceeds 4096") as caught:
            await _http.request(session, "POST", f"{url}/huge", what="test sink", timeout=5, body=b"{}")
    assert not caught.value.permanent and url not in str(caught.value)
