"""What every loopback fake of an HTTP alert API shares: recorded requests and scripted failures."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Scripted:
    """A canned answer for the next request (a rate limit, an outage, a refusal)."""

    status: int = 200
    json_body: Any = None
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """One request a fake received (before it decided how to answer)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any


class ScriptedFake:
    """Records every request; answers from `script` first, then from `outage` while it says so."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: deque[Scripted] = deque()
        # Called per request; returning an answer refuses it (e.g. 429/500 during a fake outage).
        self.outage: Callable[[], Scripted | None] | None = None

    def answer_next(self, *answers: Scripted) -> None:
        """Queue canned answers for the next requests."""
        self.script.extend(answers)

    async def record(self, request: web.Request) -> Request:
        """Read and remember the request."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        seen = Request(request.method, request.path_qs, dict(request.headers), raw, body)
        self.requests.append(seen)
        return seen

    def scripted(self) -> web.Response | None:
        """The canned or outage answer for this request, if any."""
        answer = self.script.popleft() if self.script else (self.outage() if self.outage else None)
        if answer is None:
            return None
        if answer.json_body is not None:
            return web.json_response(answer.json_body, status=answer.status, headers=answer.headers)
        return web.Response(status=answer.status, text=answer.text, headers=answer.headers)
