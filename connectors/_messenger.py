"""Messenger conversations by polling (`/{page-id}/conversations`): the fallback when a webhook is missed.

Message ids (`m_…`) and conversation ids (`dm:<page>:<customer>`) are the ones the webhook gives,
so a message seen both ways is one mention.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors._meta import BAD_ITEM, why
from connectors._meta_webhook import DM_CHANNEL, conversation_of
from connectors._parse import MalformedItemError, mapping_of, required_id, required_time, text_id
from connectors._watermark import Watermark
from listener.domain import Mention, Reply

if TYPE_CHECKING:
    from connectors.facebook import FacebookConnector

logger = logging.getLogger(__name__)

MESSAGE_FIELDS = "id,message,from,to,created_time"


async def poll_conversations(conn: FacebookConnector, mark: Watermark, mentions: dict[str, Mention],
                             replies: dict[str, Reply]) -> None:
    """Conversations updated since the mark (newest first), and their new messages."""
    overlap, first_run = conn.config.overlap, mark.fresh
    params = [("platform", "messenger"), ("fields", "id,updated_time"), ("limit", str(conn.config.limit))]
    taken: list[tuple[str, datetime]] = []
    try:
        async for threads in conn.pages(f"/{conn.config.page_id}/conversations", params):
            times: list[datetime] = []
            for thread in threads:
                try:
                    ident = required_id(thread, "id", "conversation")
                    updated = required_time(thread.get("updated_time"), "updated_time")
                except BAD_ITEM as err:
                    conn.skip(thread, why(err))
                    continue
                times.append(updated)
                if mark.reached(updated, overlap):
                    continue  # nothing new in it
                await _messages(conn, ident, mark, mentions, replies, taken, first_run)
                if conn.paused_until is not None:
                    return
            if first_run or (times and mark.reached(min(times), overlap)):
                break
    finally:
        mark.advance(taken, overlap, started=conn.clock.now())


async def _messages(conn: FacebookConnector, thread: str, mark: Watermark, mentions: dict[str, Mention],
                    replies: dict[str, Reply], taken: list[tuple[str, datetime]], first_run: bool) -> None:
    """One conversation's messages, newest first, down to the mark; the Page's answer the customer's latest."""
    overlap = conn.config.overlap
    read: list[tuple[datetime, str, Mapping[str, Any], str, bool]] = []
    params = [("fields", MESSAGE_FIELDS), ("limit", str(conn.config.limit))]
    async for items in conn.pages(f"/{thread}/messages", params, max_pages=1 if first_run else None):
        times = []
        for item in items:
            try:
                if not isinstance(item, Mapping):
                    raise MalformedItemError("message is not an object")
                ident = required_id(item, "id", "message")
                created = required_time(item.get("created_time"), "created_time")
                sender = mapping_of(item.get("from"))
                sender_id = text_id(sender.get("id"))
                if not sender_id:
                    raise MalformedItemError("message has no from.id")
                times.append(created)
                own = conn.is_brand(sender_id, str(sender.get("name") or ""))
                read.append((created, ident, item, sender_id, own))
            except BAD_ITEM as err:
                conn.skip(item, why(err))
        if times and mark.reached(min(times), overlap):
            break
    customer = next((who for _, _, _, who, own in read if not own), None) or _recipient(read, conn.config.page_id)
    if customer is None:
        return
    conversation = conversation_of(conn.config.page_id, customer)
    latest: str | None = None
    for created, ident, item, sender_id, own in sorted(read, key=lambda r: r[0]):
        if own:
            if latest is not None:
                replies[ident] = Reply(source=conn.name, external_id=ident, in_reply_to=latest,
                                       author=str((item.get("from") or {}).get("name") or conn.config.page_id),
                                       created_at=created, text=str(item.get("message") or ""))
            continue
        latest = ident
        if not mark.is_new(ident, created, overlap):
            continue
        text = str(item.get("message") or "")
        mentions[ident] = Mention(
            # The customer's page-scoped id, as the webhook gives it (a name is not always sent there).
            source=conn.name, external_id=ident, text=text, author=sender_id,
            author_name=str((item.get("from") or {}).get("name") or ""), created_at=created,
            conversation_id=conversation, brands=tuple(dict.fromkeys((*conn.attribute(text),
                                                                      *conn.webhook_account().brands))),
            raw={**item, "channel": DM_CHANNEL, "via": "poll"},
        )
        taken.append((ident, created))


def _recipient(read: list[tuple[datetime, str, Mapping[str, Any], str, bool]], page_id: str) -> str | None:
    """The customer of a conversation where only the Page wrote (in what was read): its `to` participant."""
    for _, _, item, _, _ in read:
        to = item.get("to")
        people = to.get("data") if isinstance(to, Mapping) else None
        for person in people if isinstance(people, list) else ():
            ident = text_id(person.get("id")) if isinstance(person, Mapping) else None
            if ident and ident != page_id:
                return ident
    return None
