"""Slack sink: one message per complaint (chat.postMessage, then chat.update), or an incoming webhook.

One attempt per `send` (slack_sdk's own handler retries once on a connection reset); every
failure becomes a `SinkError`, so the outbox keeps the event and retries it later.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError, SlackObjectFormationError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerts.base import Event, EventKind, HttpSink
from alerts.routes import first_match
from alerts.slack_blocks import SlackMessage, render, render_digest
from config.schema import SlackRoute, SlackSettings
from listener.errors import ConfigError, SinkError
from listener.http import parse_retry_after

logger = logging.getLogger(__name__)

# slack_sdk logs request URLs and bodies whenever its logger's *own* level is DEBUG or unset
# (it checks `logger.level`, not the effective level), and a webhook URL is a secret. Its
# clients get this logger, pinned above DEBUG, so those lines are never even built.
_sdk_logger = logging.getLogger(f"{__name__}.sdk")
_sdk_logger.setLevel(logging.INFO)

# Errors a retry cannot fix: they need an operator (token, scopes, channel, payload).
PERMANENT_ERRORS = frozenset(
    {
        "access_denied",
        "account_inactive",
        "action_prohibited",
        "channel_is_archived",
        "channel_not_found",
        "ekm_access_denied",
        "invalid_arguments",
        "invalid_auth",
        "invalid_blocks",
        "invalid_payload",
        "invalid_token",
        "is_archived",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_service",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "org_login_required",
        "restricted_action",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
        "too_many_attachments",
        "user_not_found",
    }
)
# chat.update cannot touch the earlier message any more: post a fresh one instead.
_GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")

T = TypeVar("T")


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _is_channel(route: str) -> bool:
    return route.startswith("#") or (route[:1] in ("C", "G") and route[1:].isalnum() and route.isupper())


def route_mention(route: str) -> str:
    """A configured escalation target as a Slack mention: U… users, S… (or subteam:S…) user groups."""
    route = route.strip()
    if route.startswith("subteam:"):
        return f"<!subteam^{route.removeprefix('subteam:')}>"
    if route[:1] == "S" and route[1:].isalnum() and route.isupper():
        return f"<!subteam^{route}>"
    if route[:1] in ("U", "W") and route[1:].isalnum() and route.isupper():
        return f"<@{route}>"
    return escape_plain(route)


def escape_plain(text: str) -> str:
    """Escape Slack's three control characters in text we did not write."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a message goes: a channel (bot token) or an incoming webhook; `label` names it for noise controls."""

    label: str
    channel: str = ""
    hook: AsyncWebhookClient | None = None


class SlackSink(HttpSink[SlackSettings]):
    """Deliver WARN/BREACH/REPLIED/SOURCE events to Slack.

    Bot-token mode posts the first event of a thread and updates that message afterwards;
    the returned ref is `"<channel id>:<ts>"`. Webhook mode posts every event anew (a
    webhook cannot edit) and returns None.
    """

    name: ClassVar[str] = "slack"

    def setup(self) -> None:
        """The Web API or webhook client, the default channel and the routes (a webhook route gets its own client)."""
        token = self._settings.bot_token.get_secret_value().strip() if self._settings.bot_token else ""
        webhook = self._settings.webhook_url.get_secret_value().strip() if self._settings.webhook_url else ""
        self._web: AsyncWebClient | None = None
        self._hook: AsyncWebhookClient | None = None
        # A bot token wins over a webhook: only it can update a message in place.
        if token:
            self._web = AsyncWebClient(
                token=token,
                base_url=self._settings.base_url,
                session=self._session,
                timeout=max(1, int(self._timeout)),
                logger=_sdk_logger,
            )
            # Proxies are the shared session's business (trust_env), not the SDK's env lookup.
            self._web.proxy = None
        elif webhook:
            self._hook = AsyncWebhookClient(
                webhook, session=self._session, timeout=max(1, int(self._timeout)), logger=_sdk_logger
            )
            self._hook.proxy = None
        else:
            raise ConfigError(["alerts.slack: set `webhook_url` or `bot_token` (with `channel`)"])
        self._kinds = frozenset(self._settings.kinds)
        self._default = (
            _Target(self._settings.channel, channel=self._settings.channel) if self._web is not None
            else _Target(self._settings.channel or "webhook", hook=self._hook)
        )
        # Routes in order (the first match wins); each webhook route gets its own client.
        self._routes: list[tuple[SlackRoute, _Target]] = []
        for number, route in enumerate(self._settings.routes, start=1):
            url = route.webhook_url.get_secret_value().strip() if route.webhook_url else ""
            if url:
                hook = AsyncWebhookClient(url, session=self._session, timeout=max(1, int(self._timeout)),
                                          logger=_sdk_logger)
                hook.proxy = None
                target = _Target(route.channel or f"route {number}", hook=hook)
            elif self._web is not None and route.channel:
                target = _Target(route.channel, channel=route.channel)
            else:
                raise ConfigError([f"alerts.slack.routes[{number}]: needs `webhook_url` (no bot token)"])
            self._routes.append((route, target))
        self._by_label = {target.label: target for _, target in reversed(self._routes)}
        self._by_label.setdefault(self._default.label, self._default)
        # One send at a time when webhooks are involved (a webhook posts to one channel, where arrival
        # order is reading order); with a bot token only the dispatcher's limit applies.
        self.max_in_flight = 1 if self._web is None or any(t.hook is not None for _, t in self._routes) else None

    def target(self, event: Event) -> _Target:
        """The first route that matches `event` (brand, policy, source, kind), else the default channel."""
        return first_match(self._routes, event, self._default)

    def channel_for(self, event: Event) -> str:
        """The channel `event` goes to, as noise controls count it (a route's channel or label)."""
        return self.target(event).label

    @property
    def mode(self) -> str:
        """`"bot"` (chat.postMessage/chat.update) or `"webhook"`."""
        return "bot" if self._web is not None else "webhook"

    def accepts(self, event: Event) -> bool:
        """Alerts of the configured kinds; never plain mentions.

        A reply only matters to Slack when the complaint was alerted on before: a clock that
        stopped in time has no message to update, and a new one would be noise.
        """
        if event.kind is EventKind.REPLIED and not event.alerted:
            return False
        return event.kind != EventKind.MENTION and event.kind.value in self._kinds

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Post (or update) the message for `event`; raise SinkError when Slack did not take it."""
        target = self.target(event)
        try:
            # Buttons only where Slack can call us back about a message we can update.
            message = render(event, now=self._clock.now(), buttons=target.hook is None)
        except SlackObjectFormationError as err:
            # A bug in rendering, not in Slack: keep the event and say which one.
            raise SinkError(f"slack: cannot render {event.id}: {err}", permanent=True) from err
        if target.hook is not None:
            await self._send_webhook(message, event, target.hook)
            return None
        channel, _, ts = (previous_ref or "").partition(":")
        if event.kind == EventKind.ESCALATE:
            await self._escalate(event, message, channel, ts, target.channel)
            return previous_ref  # later updates still go to the complaint's own message
        if channel and ts:
            try:
                return await self._call(event, "chat.update", lambda: self._update(channel, ts, message))
            except _MessageGone:
                logger.info("slack: message for %s can no longer be updated; posting a new one", event.id)
        return await self._call(event, "chat.postMessage", lambda: self._post(message, target.channel))

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """Post one digest message for alerts held back from `channel` (quiet hours, rate limit)."""
        target = self._by_label.get(channel, self._default)
        try:
            message = render_digest(list(events), tuple(reasons), now=self._clock.now(), digest_id=digest_id)
        except SlackObjectFormationError as err:
            raise SinkError(f"slack: cannot render {digest_id}: {err}", permanent=True) from err
        what = Event(id=digest_id, kind=EventKind.SOURCE, brand="", thread=digest_id, created_at=self._clock.now())
        if target.hook is not None:
            await self._send_webhook(message, what, target.hook)
            return None
        return await self._call(what, "chat.postMessage", lambda: self._post(message, target.channel))

    async def _escalate(self, event: Event, message: SlackMessage, channel: str, ts: str, home: str) -> None:
        """An escalation: a thread reply under the complaint's message naming who is now on it,
        and a copy in every channel the level routes to."""
        assert self._web is not None
        routes = list(event.escalation.to) if event.escalation else []
        mentions = " ".join(route_mention(r) for r in routes if not _is_channel(r))
        level = event.escalation.level if event.escalation else ""
        text = f"Escalated ({escape_plain(str(level))}): {mentions} " + message.text if mentions else message.text
        web = self._web
        if channel and ts:
            await self._call(event, "chat.postMessage", lambda: web.chat_postMessage(
                channel=channel, thread_ts=ts, text=text, link_names=False, parse="none",
                unfurl_links=False, unfurl_media=False))
        targets = [r for r in routes if _is_channel(r)] or ([] if channel and ts else [home])
        for target in targets:
            await self._call(event, "chat.postMessage", functools.partial(
                web.chat_postMessage, channel=target, text=text, blocks=message.blocks, link_names=False,
                parse="none", unfurl_links=False, unfurl_media=False))

    async def _post(self, message: SlackMessage, channel: str) -> str:
        assert self._web is not None
        # link_names/parse/unfurl are explicit so no mention or preview is ever derived from text.
        response = await self._web.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            link_names=False,
            parse="none",
            unfurl_links=False,
            unfurl_media=False,
        )
        return self._ref(response.data)

    async def _update(self, channel: str, ts: str, message: SlackMessage) -> str:
        assert self._web is not None
        # chat.update resets link_names/parse when omitted, so they are repeated here.
        response = await self._web.chat_update(
            channel=channel, ts=ts, text=message.text, blocks=message.blocks, link_names=False, parse="none"
        )
        return self._ref(response.data, fallback_channel=channel)

    @staticmethod
    def _ref(data: Any, fallback_channel: str = "") -> str:
        if not isinstance(data, dict) or not isinstance(data.get("ts"), str):
            raise SinkError("slack: reply without a message ts")
        channel = data.get("channel") if isinstance(data.get("channel"), str) else fallback_channel
        if not channel:
            raise SinkError("slack: reply without a channel id")
        return f"{channel}:{data['ts']}"

    async def _call(self, event: Event, method: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await call()
        except SlackApiError as err:
            raise self._api_error(event, method, err) from None
        except (TimeoutError, aiohttp.ClientError, SlackClientError, OSError) as err:
            # `from None`: aiohttp errors can carry the request URL; the class name is enough.
            raise SinkError(f"slack: {method} for {event.id} failed: {type(err).__name__}") from None

    def _api_error(self, event: Event, method: str, err: SlackApiError) -> SinkError | _MessageGone:
        response = err.response
        status = getattr(response, "status_code", None)
        data = getattr(response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        code = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None
        if status == 429 or code in ("ratelimited", "rate_limited"):
            header = _header(getattr(response, "headers", None), "retry-after")
            retry_after = parse_retry_after(header, self._clock.now())
            return SinkError(f"slack: {method} rate limited for {event.id}", retry_after=retry_after)
        if method == "chat.update" and code in _GONE_ERRORS:
            return _MessageGone(code)
        if status is not None and status >= 500:
            return SinkError(f"slack: {method} for {event.id}: HTTP {status}")
        permanent = code in PERMANENT_ERRORS
        return SinkError(f"slack: {method} for {event.id}: {code or f'HTTP {status}'}", permanent=permanent)

    async def _send_webhook(self, message: SlackMessage, event: Event, hook: AsyncWebhookClient) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                response = await hook.send(
                    text=message.text, blocks=message.blocks, unfurl_links=False, unfurl_media=False
                )
        except (TimeoutError, aiohttp.ClientError, SlackClientError, OSError) as err:
            raise SinkError(f"slack: webhook post for {event.id} failed: {type(err).__name__}") from None
        status, body = response.status_code, (response.body or "").strip()
        if status == 200 and body == "ok":
            return
        code = body if _ERROR_CODE.fullmatch(body) else ""
        if status == 429:
            retry_after = parse_retry_after(_header(response.headers, "retry-after"), self._clock.now())
            raise SinkError(f"slack: webhook rate limited for {event.id}", retry_after=retry_after)
        what = f"HTTP {status}" + (f" {code}" if code else "")
        if status >= 500 or status in (200, 408):
            raise SinkError(f"slack: webhook post for {event.id}: {what}")
        raise SinkError(f"slack: webhook post for {event.id}: {what}", permanent=400 <= status < 500)


class _MessageGone(Exception):
    """chat.update refused because the original message can no longer be edited."""
