"""Faults from loopback sources: each maps quickly to the right error family and nothing hangs."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from connectors import _http
from connectors._http import MalformedResponseError, request
from listener.errors import SourceAuthError, SourceError, TransientSourceError


async def _stall_mid_body(request_: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
    await resp.prepare(request_)
    await resp.write(b'{"items": [')
    await asyncio.sleep(30)  # never finishes; the client timeout must cut it
    return resp


async def _hang(_request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.json_response({})


def _status(code: int, body: bytes = b"oops", headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=code, body=body, headers=headers or {})

    return handler


async def _huge(request_: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})  # chunked: no length up front
    await resp.prepare(request_)
    chunk = b"[" + b"1," * 32_767 + b"1]"
    for _ in range(200):
        await resp.write(chunk)
    return resp


ROUTES = {
    "/hang": _hang,
    "/stall": _stall_mid_body,
    "/500": _status(500, b"<html>maintenance</html>"),
    "/503": _status(503, b"busy", {"Retry-After": "7"}),
    "/429": _status(429, b"slow down", {"Retry-After": "120"}),
    "/401": _status(401),
    "/400": _status(400),
    "/html": _status(200, b"<html>proxy login</html>"),
    "/truncated": _status(200, b'{"items": [1, 2'),
    "/empty": _status(200, b""),
    "/deep": _status(200, b"[" * 200_000 + b"]" * 200_000),
    "/latin1": _status(200, b'{"a": "\xff\xfe"}'),
    "/surrogate": _status(200, b'{"text": "a\\ud800b", "\\udfffkey": ["\\ud83d\\ude00"]}'),
    "/huge": _huge,
}


@pytest.fixture
async def base(aiohttp_server) -> str:  # type: ignore[no-untyped-def]
    app = web.Application()
    for path, handler in ROUTES.items():
        app.router.add_get(path, handler)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    ("path", "error", "retry_after"),
    [
        ("/hang", TransientSourceError, None),
        ("/stall", TransientSourceError, None),
        ("/500", TransientSourceError, None),
        ("/503", TransientSourceError, 7.0),
        ("/429", TransientSourceError, 120.0),
        ("/401", SourceAuthError, None),
        ("/400", SourceError, None),
        ("/html", MalformedResponseError, None),
        ("/truncated", MalformedResponseError, None),
        ("/empty", MalformedResponseError, None),
        ("/deep", MalformedResponseError, None),
        ("/latin1", MalformedResponseError, None),
        ("/huge", MalformedResponseError, None),
    ],
)
async def test_fault_maps_to_error_family(base: str, path: str, error: type[Exception], retry_after: float | None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fault leaves `request` as a listener error, within the (tiny) timeout."""
    monkeypatch.setattr(_http, "MAX_BODY", 1_000_000)  # the huge body is 13 MB; keep the test light
    async with aiohttp.ClientSession() as session:
        with pytest.raises(error) as caught:
            await asyncio.wait_for(request(session, "GET", base + path, timeout=0.5), timeout=10)
    if retry_after is not None:
        assert caught.value.retry_after == pytest.approx(retry_after, abs=1)
    if error is SourceAuthError:
        assert not isinstance(caught.value, TransientSourceError)


async def test_lone_surrogates_in_json_become_storable(base: str) -> None:
    """`\\ud800` escapes are replaced, so the page can be stored instead of failing forever."""
    async with aiohttp.ClientSession() as session:
        resp = await request(session, "GET", base + "/surrogate")
    assert resp.data == {"text": "a?b", "?key": ["\U0001f600"]}


@pytest.mark.parametrize("line", [b"[" * 100_000, b'{"a":' * 100_000])
def test_jsonl_deep_line_is_a_malformed_record(line: bytes) -> None:
    """A hostile JSONL line is skipped as malformed instead of stopping the source."""
    from connectors._parse import MalformedItemError
    from connectors.jsonl import parse_line

    with pytest.raises(MalformedItemError):
        parse_line(line)
