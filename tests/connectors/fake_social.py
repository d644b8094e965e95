"""Plumbing shared by the loopback fakes of the social APIs: recording, scripted answers, auth."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, MultiMapping

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load_fixture(source: str, name: str) -> Any:
    """A fresh copy of tests/fixtures/<source>/<name> (JSON), or its text for other files."""
    path = FIXTURES / source / name
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else text


@dataclass
class Recorded:
    """One request as a fake saw it."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDict[str]
    body: bytes = b""


@dataclass
class Scripted:
    """A canned answer for the next request to a path prefix (failures, odd bodies, delays)."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay_body: float = 0.0  # after the headers, before the rest of the body


class FakeApi:
    """Base of the fakes: subclasses add routes, `authorized` and `rate_headers`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[tuple[str, Scripted]] = []

    def fail_next(self, path_prefix: str, answer: Scripted) -> None:
        """Answer the next request under `path_prefix` with `answer` instead of real data."""
        self.script.append((path_prefix, answer))

    def paths(self) -> list[str]:
        """Paths requested so far, in order."""
        return [r.path for r in self.requests]

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        return app

    def routes(self, app: web.Application) -> None:
        """Register the endpoints (subclasses)."""
        raise NotImplementedError

    def authorized(self, request: web.Request) -> bool:
        """Whether the request carries valid credentials (subclasses)."""
        return True

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """The API's own answer to missing or wrong credentials."""
        return web.json_response({"error": "unauthorized"}, status=401)

    def rate_headers(self) -> dict[str, str]:
        """The API's own rate-limit headers for a served answer (subclasses)."""
        return {}

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, request.query, CIMultiDict(request.headers), body))
        for index, (prefix, answer) in enumerate(self.script):
            if request.path.startswith(prefix):
                del self.script[index]
                return await self._scripted(request, answer)
        if not self.authorized(request):
            return self.unauthorized(request)
        response = await handler(request)
        response.headers.update(self.rate_headers())
        return response

    async def _scripted(self, request: web.Request, answer: Scripted) -> web.StreamResponse:
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        response.content_type = answer.content_type
        body = answer.body.encode()
        response.content_length = len(body)
        await response.prepare(request)
        if answer.delay_body:
            await response.write(body[:1])
            await asyncio.sleep(answer.delay_body)
            body = body[1:]
        await response.write(body)
        await response.write_eof()
        return response
