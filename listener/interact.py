"""Slack's interactivity endpoint: signed button clicks become actions on a complaint's clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

logger = logging.getLogger(__name__)

# Our button action ids (alerts/slack_blocks.py) -> store actions.
ACTIONS = {
    "listener_ack": "ack",
    "listener_assign": "assign",
    "listener_snooze": "snooze",
    "listener_not_complaint": "not_complaint",
    "listener_replied": "replied",
}
MAX_BODY = 256 * 1024

ActionHandler = Callable[[str, str, str, str], Awaitable[str]]
"""(mention key, action, user, request key) -> "done" | "duplicate" | "closed"."""


def slack_actions_handler(signing_secret: str, act: ActionHandler, *, now: Callable[[], datetime] | None = None
                          ) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler for POST /slack/actions."""
    verifier = SignatureVerifier(signing_secret)
    if now is not None:  # tests pin the clock to Slack's documented example request
        verifier.clock = _FixedClock(now)

    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="request too large")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.Response(status=413, text="request too large")
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        # Checks the v0 HMAC-SHA256 and refuses timestamps older than five minutes (replays).
        if not timestamp or not signature or not verifier.is_valid(body, timestamp, signature):
            logger.warning("slack: refused an unsigned, badly signed or stale request")
            return web.Response(status=401, text="invalid signature")
        payload = _payload(body)
        if payload is None or payload.get("type") != "block_actions":
            return web.Response(status=200)  # other interaction types: nothing to do, but acknowledged
        user = payload.get("user") or {}
        who = str(user.get("username") or user.get("name") or user.get("id") or "someone")
        results = []
        for action in payload.get("actions") or ():
            name = ACTIONS.get(str(action.get("action_id")))
            key = action.get("value")
            if name is None or not isinstance(key, str) or not key:
                continue  # the "Open post" link button, or something not ours
            # Slack retries a click it thinks we missed; the same trigger and action id act once.
            request_key = f"{payload.get('trigger_id') or action.get('action_ts')}:{action.get('action_id')}"
            results.append(await act(key, name, who, request_key))
            logger.info("slack: %s pressed %s on %s -> %s", who, name, key, results[-1])
        return web.Response(status=200)

    return handle


def _payload(body: bytes) -> dict[str, Any] | None:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        data = json.loads(form["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class _FixedClock:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()
