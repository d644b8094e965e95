"""A loopback fake of Slack's chat.postMessage, chat.update and an incoming webhook (apis.md section 11).

It checks what a real Slack would refuse (token, channel, message ts) and parses every block
back into slack_sdk's Block Kit models, so a malformed block fails the test that sent it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

TOKEN = "xoxb-1111-2222-FAKEtokenSECRET"
WEBHOOK_PATH = "/services/T0FAKE/B0FAKE/webhookSECRETpart"
CHANNEL_ID = "C0ALERTS1"


@dataclass
class Scripted:
    """A canned answer for the next request (to any endpoint)."""

    status: int = 200
    json_body: dict[str, Any] | None = None
    text: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Call:
    """One request the fake received."""

    endpoint: str
    authorization: str | None
    body: dict[str, Any]


class FakeSlack:
    """State of the fake: posted messages by (channel id, ts), calls, and scripted answers."""

    def __init__(self) -> None:
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.webhook_posts: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.script: deque[Scripted] = deque()
        self._ts = itertools.count(1)

    def app(self) -> web.Application:
        """The aiohttp application serving the fake endpoints."""
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        app.router.add_post("/api/chat.update", self._update)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        return app

    def answer_next(self, scripted: Scripted) -> None:
        """Queue a canned answer for the next request."""
        self.script.append(scripted)

    # ---- helpers ----------------------------------------------------------------------

    async def _scripted(self) -> web.StreamResponse | None:
        if not self.script:
            return None
        answer = self.script.popleft()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.json_body is not None:
            return web.json_response(answer.json_body, status=answer.status, headers=answer.headers)
        return web.Response(
            status=answer.status, text=answer.text or "", content_type=answer.content_type, headers=answer.headers
        )

    async def _read(self, request: web.Request, endpoint: str) -> dict[str, Any]:
        if request.content_type != "application/json":
            self.problems.append(f"{endpoint}: content type {request.content_type}")
        body = json.loads(await request.text())
        self.calls.append(Call(endpoint, request.headers.get("Authorization"), body))
        return body

    def _check_blocks(self, endpoint: str, blocks: Any) -> str | None:
        """Parse blocks into slack_sdk models and back; they must validate and round-trip."""
        if blocks is None:
            return None
        if not isinstance(blocks, list) or not blocks:
            return "blocks must be a non-empty list"
        for raw in blocks:
            try:
                model = Block.parse(raw)
                if model is None:
                    return f"unknown block {raw!r:.80}"
                again = model.to_dict()  # runs slack_sdk's validators
            except SlackObjectFormationError as err:
                return f"invalid block: {err}"
            if again != raw:
                return f"block does not round-trip: {raw!r:.200}"
        return None

    def _auth_error(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization")
        if not header:
            return "not_authed"
        if header != f"Bearer {TOKEN}":
            return "invalid_auth"
        return None

    def _validate(self, endpoint: str, body: dict[str, Any]) -> str | None:
        problem = self._check_blocks(endpoint, body.get("blocks"))
        if problem:
            self.problems.append(f"{endpoint}: {problem}")
            return "invalid_blocks"
        if not body.get("text") and not body.get("blocks"):
            return "no_text"
        if len(body.get("text") or "") > 40000:
            return "msg_too_long"
        return None

    # ---- endpoints --------------------------------------------------------------------

    async def _post_message(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, "chat.postMessage")
        if (scripted := await self._scripted()) is not None:
            return scripted
        if error := self._auth_error(request) or self._validate("chat.postMessage", body):
            return web.json_response({"ok": False, "error": error})
        if not body.get("channel"):
            return web.json_response({"ok": False, "error": "channel_not_found"})
        # Slack answers with the channel *id*, whatever name the request used.
        number = next(self._ts)
        ts = f"{1767600000 + number}.{number:06d}"
        message = {"text": body.get("text"), "blocks": body.get("blocks"), "ts": ts}
        self.messages[(CHANNEL_ID, ts)] = message
        return web.json_response({"ok": True, "channel": CHANNEL_ID, "ts": ts, "message": message})

    async def _update(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, "chat.update")
        if (scripted := await self._scripted()) is not None:
            return scripted
        if error := self._auth_error(request) or self._validate("chat.update", body):
            return web.json_response({"ok": False, "error": error})
        channel, ts = body.get("channel"), body.get("ts")
        if channel != CHANNEL_ID:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if (channel, ts) not in self.messages:
            return web.json_response({"ok": False, "error": "message_not_found"})
        message = {"text": body.get("text"), "blocks": body.get("blocks"), "ts": ts}
        self.messages[(channel, ts)] = message
        answer = {"ok": True, "channel": channel, "ts": ts, "text": body.get("text"), "message": message}
        return web.json_response(answer)

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, "webhook")
        if (scripted := await self._scripted()) is not None:
            return scripted
        if self._check_blocks("webhook", body.get("blocks")):
            self.problems.append("webhook: invalid blocks")
            return web.Response(status=400, text="invalid_blocks", content_type="text/plain")
        if not body.get("text") and not body.get("blocks"):
            return web.Response(status=400, text="no_text", content_type="text/plain")
        self.webhook_posts.append(body)
        return web.Response(text="ok", content_type="text/plain")
