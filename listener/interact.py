"""Actions on a complaint's clock (ack, assign, snooze, not a complaint, replied, confirm), from Slack or the web queue.

Slack's signed button clicks and the web queue's POSTs both end in `ClockActions.apply`: one code path,
one `actions` record per request key (a retried request acts once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_sdk.signature import Clock, SignatureVerifier

from listener.store import SyncStore

if TYPE_CHECKING:
    from listener.events import Event
    from listener.store import Store

logger = logging.getLogger(__name__)

# "confirm": an unsure judgement is a complaint after all (its clock alerts from then on, or one opens).
ACTION_NAMES = ("ack", "assign", "snooze", "not_complaint", "replied", "confirm")
DEFAULT_SNOOZE = timedelta(minutes=30)
MAX_SNOOZE = timedelta(days=7)
MAX_NAME = 80

# Our button action ids (alerts/slack_blocks.py) -> store actions.
ACTIONS = {
    "listener_ack": "ack",
    "listener_assign": "assign",
    "listener_snooze": "snooze",
    "listener_not_complaint": "not_complaint",
    "listener_replied": "replied",
}
MAX_BODY = 256 * 1024



class ActionError(ValueError):
    """An action request that cannot be applied as asked (unknown action, bad name or duration)."""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One press of a button: on which clock, what, by whom, from where, and its idempotency key."""

    mention_key: str
    action: str
    user: str
    request_key: str
    via: str  # "slack", "web/user-token", "web/shared-token", "web/open"
    assignee: str | None = None  # assign: to whom (default: `user`)
    snooze: timedelta = DEFAULT_SNOOZE

    def __post_init__(self) -> None:
        if self.action not in ACTION_NAMES:
            raise ActionError(f"action must be one of {', '.join(ACTION_NAMES)}")
        if not self.mention_key or not self.request_key:
            raise ActionError("mention_key and request id are required")
        for label, name in (("user", self.user), ("assignee", self.assignee)):
            if name is not None and (not name.strip() or len(name) > MAX_NAME or not name.isprintable()):
                raise ActionError(f"{label} must be 1 to {MAX_NAME} printable characters")
        if not timedelta(minutes=1) <= self.snooze <= MAX_SNOOZE:
            raise ActionError("snooze must be between 1 minute and 7 days")


ActionHandler = Callable[[ActionRequest], Awaitable[str]]
"""An action request -> "done" | "duplicate" (applied before) | "closed" (no open clock)."""


class ClockActions:
    """Applies action requests through the daemon's store (its outbox updates the Slack message and other sinks)."""

    def __init__(self, store: Store, route: Callable[[Event], list[str]] | None,
                 now: Callable[[], datetime]) -> None:
        self._store = store
        self._route = route
        self._now = now
        self._listeners: list[Callable[[ActionRequest, str], None]] = []

    def on_applied(self, listener: Callable[[ActionRequest, str], None]) -> None:
        """Call `listener(request, result)` after each request (the web queue's live updates)."""
        self._listeners.append(listener)

    async def apply(self, request: ActionRequest) -> str:
        """Apply one request once; "done", "duplicate" or "closed"."""
        result = await self._store.call(
            SyncStore.take_action, request.mention_key, request.action, request.user, self._now(), self._route,
            request_key=request.request_key, snooze=request.snooze, assignee=request.assignee, via=request.via,
        )
        logger.info("%s: %s pressed %s on %s -> %s", request.via, request.user, request.action,
                    request.mention_key, result)
        for listener in self._listeners:
            listener(request, result)
        return result


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
            try:
                action_request = ActionRequest(key, name, who[:MAX_NAME], request_key, via="slack")
            except ActionError as err:
                logger.warning("slack: refused an action: %s", err)
                continue
            results.append(await act(action_request))
        return web.Response(status=200)

    return handle


def _payload(body: bytes) -> dict[str, Any] | None:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        data = json.loads(form["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class _FixedClock(Clock):
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()
