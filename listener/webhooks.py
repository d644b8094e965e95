"""Meta's webhooks on the daemon's web server: the subscription check, signed deliveries, stored before the 200.

`GET /webhooks/meta` answers Meta's subscription challenge (`hub.mode=subscribe`, `hub.verify_token`,
`hub.challenge`). `POST /webhooks/meta` checks `X-Hub-Signature-256` (HMAC-SHA256 of the raw
body with the app secret, compared in constant time), maps each entry with the connector that
owns its account (Page id or IG User id), and stores the mentions and replies in the database
before answering 200. When storing fails the answer is 503 and Meta delivers again; the store
keys mentions by source and id, so a redelivery, or the same comment found later by polling,
never makes a second mention.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from connectors._meta_webhook import WebhookItems
from listener.domain import Mention, Reply
from listener.errors import SourceError
from listener.store import SyncStore

logger = logging.getLogger(__name__)

ROUTE = "/webhooks/meta"
MAX_BODY = 1024 * 1024  # Meta batches up to 1,000 updates; a bigger body is not Meta
_LAST_DMS = 10_000  # conversations whose latest customer message is remembered for echoes
# Meta gives up on a delivery that is not answered within about 20 seconds; a mention lookup that
# takes longer is abandoned and the delivery asked for again (503) rather than timed out silently.
MAPPING_LIMIT = 15.0

Ingest = Callable[[str, list[Mention], list[Reply]], Awaitable[None]]
"""(source, mentions, replies): store them durably (and queue new mentions for classification)."""
OpenMentions = Callable[[str], Awaitable[Sequence[Mention]]]
"""Open complaint mentions of a source (to place a DM answer after a restart)."""


class WebhookTarget(Protocol):
    """A connector that takes Meta webhooks (facebook, instagram)."""

    name: str
    config: Any
    webhook_object: str

    @property
    def webhook_id(self) -> str: ...

    async def webhook_entry(self, obj: str, entry: Mapping[str, Any], now: datetime) -> WebhookItems: ...


def _secret(value: Any) -> str:
    plain = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    return str(plain or "").strip()


def meta_webhook_targets(connectors: Iterable[object]) -> list[WebhookTarget]:
    """The connectors with webhooks switched on (`verify_token` and `app_secret` set)."""
    found: list[WebhookTarget] = []
    for connector in connectors:
        config = getattr(connector, "config", None)
        if getattr(connector, "webhook_object", "") and _secret(getattr(config, "verify_token", None)) \
                and _secret(getattr(config, "app_secret", None)):
            found.append(connector)  # type: ignore[arg-type]
    return found


def signature_of(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class MetaWebhooks:
    """The two handlers of ROUTE, over the given connectors and the daemon's store."""

    def __init__(self, targets: Sequence[WebhookTarget], ingest: Ingest, open_mentions: OpenMentions,
                 now: Callable[[], datetime]) -> None:
        self.targets = list(targets)
        self.ingest = ingest
        self.open_mentions = open_mentions
        self.now = now
        self._last_dm: OrderedDict[tuple[str, str], tuple[str, datetime]] = OrderedDict()

    def add_routes(self, app: web.Application) -> None:
        """Register GET and POST on ROUTE."""
        app.router.add_get(ROUTE, self.verify)
        app.router.add_post(ROUTE, self.receive)

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription check: echo `hub.challenge` when the verify token is one of ours."""
        query = request.query
        token = query.get("hub.verify_token", "")
        known = [_secret(t.config.verify_token) for t in self.targets]
        matched = any(hmac.compare_digest(token.encode(), k.encode()) for k in known)
        if query.get("hub.mode") != "subscribe" or not token or not matched:
            logger.warning("meta webhook: refused a subscription check with a wrong mode or verify token")
            return web.Response(status=403, text="verification failed")
        logger.info("meta webhook: subscription verified")
        return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """A delivery: verify the signature, store every entry's items, then answer 200."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="request too large")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.Response(status=413, text="request too large")
        signed = self._signed_by(body, request.headers.get("X-Hub-Signature-256", ""))
        if not signed:
            logger.warning("meta webhook: refused an unsigned or badly signed delivery")
            return web.Response(status=401, text="invalid signature")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(payload, Mapping) or not isinstance(payload.get("entry"), list):
            return web.Response(status=400, text="no entry list")
        obj = str(payload.get("object") or "")
        failed = False
        for entry in payload["entry"]:
            if not isinstance(entry, Mapping):
                logger.warning("meta webhook: skipping an entry that is not an object")
                continue
            target = next((t for t in signed if t.webhook_object == obj and t.webhook_id == str(entry.get("id"))),
                          None)
            if target is None:
                logger.info("meta webhook: no connector for %s %s; entry ignored", obj, entry.get("id"))
                continue
            failed = not await self._store(target, obj, entry) or failed
        # 503 makes Meta deliver again; what was stored is not stored twice.
        return web.Response(status=503, text="try again") if failed else web.Response(text="ok")

    def _signed_by(self, body: bytes, header: str) -> list[WebhookTarget]:
        """The targets whose app secret produced this signature (none: refuse)."""
        if not header.startswith("sha256="):
            return []
        return [t for t in self.targets
                if hmac.compare_digest(signature_of(body, _secret(t.config.app_secret)).encode(), header.encode())]

    async def _store(self, target: WebhookTarget, obj: str, entry: Mapping[str, Any]) -> bool:
        """Map and store one entry; False when it must be delivered again."""
        try:
            async with asyncio.timeout(MAPPING_LIMIT):
                items = await target.webhook_entry(obj, entry, self.now())
        except TimeoutError:
            logger.warning("%s: a webhook lookup took over %.0fs; asking Meta to deliver again", target.name,
                           MAPPING_LIMIT)
            return False
        except SourceError as err:  # a mention lookup failed (rate limit, network): Meta will retry
            logger.warning("%s: webhook entry not complete (%s); asking Meta to deliver again", target.name, err)
            return False
        replies = list(items.replies)
        for mention in items.mentions:
            if mention.raw.get("channel") == "direct_message" and mention.conversation_id:
                self._remember(target.name, mention)
        for answer in items.dm_answers:
            placed = await self._place_dm_answer(target.name, answer)
            if placed is not None:
                replies.append(placed)
        if not items.mentions and not replies:
            return True
        try:
            await self.ingest(target.name, items.mentions, replies)
        except Exception:  # the database is unavailable: nothing was acknowledged, so nothing is lost
            logger.exception("%s: could not store a webhook delivery; Meta will deliver it again", target.name)
            return False
        logger.info("%s: webhook brought %d mentions and %d replies", target.name, len(items.mentions), len(replies))
        return True

    def _remember(self, source: str, mention: Mention) -> None:
        key = (source, str(mention.conversation_id))
        known = self._last_dm.get(key)
        if known is None or known[1] <= mention.created_at:
            self._last_dm[key] = (mention.external_id, mention.created_at)
            self._last_dm.move_to_end(key)
        while len(self._last_dm) > _LAST_DMS:
            self._last_dm.popitem(last=False)

    async def _place_dm_answer(self, source: str, answer: Reply) -> Reply | None:
        """Point the brand's DM answer at the customer's latest message before it in that conversation."""
        conversation = answer.in_reply_to
        target: str | None = None
        known = self._last_dm.get((source, conversation))
        if known is not None and known[1] <= answer.created_at:
            target = known[0]
        else:
            waiting = [m for m in await self.open_mentions(source)
                       if m.conversation_id == conversation and m.created_at <= answer.created_at]
            if waiting:
                target = max(waiting, key=lambda m: m.created_at).external_id
        if target is None:
            logger.debug("%s: a DM answer in %s answers nothing we hold", source, conversation)
            return None
        return Reply(source=answer.source, external_id=answer.external_id, in_reply_to=target, author=answer.author,
                     created_at=answer.created_at, url=answer.url, text=answer.text)


def attach(app: web.Application, targets: Sequence[WebhookTarget], daemon: Any) -> MetaWebhooks:
    """Serve ROUTE on the daemon's app: store with the daemon's store, then queue for the classifier."""

    async def ingest(source: str, mentions: list[Mention], replies: list[Reply]) -> None:
        keys = await daemon.store.call(SyncStore.ingest, source, mentions, replies, None, daemon.clock.now(),
                                       daemon.route)
        # Stored already; a full classifier queue must not hold Meta's request, so this never waits.
        daemon.classify_later(keys)

    async def open_mentions(source: str) -> Sequence[Mention]:
        found: Sequence[Mention] = await daemon.store.call(SyncStore.open_complaint_mentions, source)
        return found

    hooks = MetaWebhooks(targets, ingest, open_mentions, daemon.clock.now)
    hooks.add_routes(app)
    return hooks
