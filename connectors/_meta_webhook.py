"""Meta webhook entries (Page feed, Instagram comments and mentions, Messenger and Instagram DMs) as mentions.

The ids are the ones polling sees (`<post>_<comment>` comment ids, IG comment ids), so an item
that arrives by webhook and again by polling is one mention in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors._meta import BAD_ITEM, why
from connectors._parse import MalformedItemError, mapping_of, text_id
from connectors.timeutil import to_utc
from listener.domain import Mention, Reply

logger = logging.getLogger(__name__)

DM_CHANNEL = "direct_message"


@dataclass
class WebhookItems:
    """What one webhook entry brought: mentions, brand replies, and brand DM answers to place."""

    mentions: list[Mention] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    # The brand's Messenger/Instagram answers (echoes): their target is the customer's latest
    # message in that conversation, which only the store knows; `Reply.in_reply_to` holds the
    # conversation id until then.
    dm_answers: list[Reply] = field(default_factory=list)
    skipped: int = 0


@dataclass(frozen=True)
class Account:
    """Who the brand is on this connector and how its mentions are attributed."""

    source: str
    account_id: str
    is_brand: Callable[[str, str], bool]
    attribute: Callable[[str], tuple[str, ...]]
    brands: tuple[str, ...]  # brands a DM to this account is about


def conversation_of(account_id: str, customer_id: str) -> str:
    """The conversation id of a DM thread between the brand's account and one customer."""
    return f"dm:{account_id}:{customer_id}"


def _time(value: Any, fallback: datetime) -> datetime:
    if value is None or isinstance(value, bool):
        return fallback
    try:
        return to_utc(value)
    except ValueError as err:
        raise MalformedItemError(f"bad time {value!r}: {err}") from err


def entry_time(entry: Mapping[str, Any], now: datetime) -> datetime:
    """`entry.time` (epoch seconds, or milliseconds on messaging entries) as UTC."""
    value = entry.get("time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC)
        except (ValueError, OverflowError, OSError):
            logger.debug("unreadable webhook time %r; using the arrival time", value)
    return now


def page_feed(account: Account, value: Mapping[str, Any], when: datetime) -> tuple[Mention | None, Reply | None]:
    """A Page `feed` change: a visitor post or a comment (`verb` add/edited) as polling would map it."""
    item, verb = value.get("item"), value.get("verb")
    if verb not in ("add", "edited"):
        return None, None  # remove, hide, unhide: nothing to store
    sender = mapping_of(value.get("from"))
    author_id, name = text_id(sender.get("id")) or "", str(sender.get("name") or "")
    created = _time(value.get("created_time"), when)
    text = str(value.get("message") or "")
    post_id = text_id(value.get("post_id"))
    if item == "comment":
        ident = text_id(value.get("comment_id"))
        parent = text_id(value.get("parent_id"))
        parent = parent if parent and parent != post_id else None  # a top-level comment's parent is the post
    elif item in ("post", "status", "photo", "video", "share"):
        ident, parent = post_id, None
    else:
        return None, None  # reactions, likes, events: not something a customer wrote
    if not ident or not author_id:
        raise MalformedItemError(f"feed {item} has no id or from.id")
    if account.is_brand(author_id, name):
        target = parent or (post_id if item == "comment" else None)
        reply = Reply(source=account.source, external_id=ident, in_reply_to=target, author=name or author_id,
                      created_at=created, url=f"https://www.facebook.com/{ident}", text=text) if target else None
        return None, reply
    edited = when if verb == "edited" and when > created else None
    mention = Mention(
        source=account.source, external_id=ident, text=text, author=name or author_id, author_name=name,
        created_at=created, url=f"https://www.facebook.com/{ident}", in_reply_to=parent,
        conversation_id=parent or ident, brands=account.attribute(text), edited_at=edited,
        raw={**value, "channel": "public_mention", "via": "webhook"},
    )
    return mention, None


def instagram_comment(account: Account, value: Mapping[str, Any], when: datetime,
                      ) -> tuple[Mention | None, Reply | None]:
    """An Instagram `comments` change (no timestamp is sent: the entry's time is used)."""
    ident = text_id(value.get("id"))
    sender = mapping_of(value.get("from"))
    author_id, name = text_id(sender.get("id")) or "", str(sender.get("username") or "")
    if not ident or not (author_id or name):
        raise MalformedItemError("comment has no id or from")
    parent = text_id(value.get("parent_id"))
    media = mapping_of(value.get("media"))
    text = str(value.get("text") or "")
    if account.is_brand(author_id, name):
        if not parent:
            return None, None
        return None, Reply(source=account.source, external_id=ident, in_reply_to=parent,
                           author=f"@{name}" if name else author_id, created_at=when, text=text)
    mention = Mention(
        source=account.source, external_id=ident, text=text, author=f"@{name}" if name else author_id,
        author_name=name, created_at=when, in_reply_to=parent, conversation_id=parent or ident,
        brands=account.attribute(text),
        raw={**value, "media_id": text_id(media.get("id")), "channel": "public_mention", "via": "webhook"},
    )
    return mention, None


def message(account: Account, event: Mapping[str, Any], now: datetime) -> tuple[Mention | None, Reply | None]:
    """A Messenger or Instagram `messaging` event: the customer's message, or the brand's echo."""
    msg = event.get("message")
    if not isinstance(msg, Mapping):
        return None, None  # delivery, read, reaction, postback: not a message
    if msg.get("is_deleted"):
        return None, None
    ident = text_id(msg.get("mid"))
    sender = text_id((event.get("sender") or {}).get("id")) if isinstance(event.get("sender"), Mapping) else None
    recipient = text_id((event.get("recipient") or {}).get("id")) if isinstance(event.get("recipient"), Mapping) \
        else None
    if not ident or not sender or not recipient:
        raise MalformedItemError("message has no mid, sender or recipient")
    created = entry_time({"time": event.get("timestamp")}, now)  # epoch milliseconds
    text = str(msg.get("text") or "") or _attachments(msg)
    if msg.get("is_echo") or sender == account.account_id:
        return None, Reply(source=account.source, external_id=ident, in_reply_to=conversation_of(account.account_id,
                                                                                                 recipient),
                           author=account.account_id, created_at=created, text=text)
    mention = Mention(
        source=account.source, external_id=ident, text=text, author=sender, created_at=created,
        conversation_id=conversation_of(account.account_id, sender),
        brands=tuple(dict.fromkeys((*account.attribute(text), *account.brands))),
        raw={**event, "channel": DM_CHANNEL, "via": "webhook"},
    )
    return mention, None


def _attachments(msg: Mapping[str, Any]) -> str:
    kinds = [str(a.get("type") or "file") for a in msg.get("attachments") or () if isinstance(a, Mapping)]
    return f"[{', '.join(kinds)}]" if kinds else ""


MentionLookup = Callable[[str, str | None], Awaitable[Mention | None]]


async def entry_items(account: Account, obj: str, entry: Mapping[str, Any], now: datetime,
                      lookup: MentionLookup | None = None) -> WebhookItems:
    """Map one `entry` of an `object: page` or `object: instagram` webhook; malformed parts are skipped."""
    found = WebhookItems()
    when = entry_time(entry, now)
    changes, events = entry.get("changes"), entry.get("messaging")
    for change in changes if isinstance(changes, list) else ():
        try:
            if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
                raise MalformedItemError("change without value")
            value, kind = change["value"], change.get("field")
            if obj == "page" and kind == "feed":
                _add(found, *page_feed(account, value, when))
            elif obj == "instagram" and kind in ("comments", "live_comments"):
                _add(found, *instagram_comment(account, value, when))
            elif obj == "instagram" and kind == "mentions" and lookup is not None:
                media = text_id(value.get("media_id"))
                if not media:
                    raise MalformedItemError("mention without media_id")
                _add(found, await lookup(media, text_id(value.get("comment_id"))), None)
            else:
                logger.debug("%s: webhook field %r of %r not used", account.source, kind, obj)
        except BAD_ITEM as err:  # a failed mention lookup (SourceError) is not caught: Meta must deliver again
            found.skipped += 1
            logger.warning("%s: skipping malformed webhook change %r: %s", account.source,
                           change.get("field") if isinstance(change, Mapping) else None, why(err))
    for event in events if isinstance(events, list) else ():
        try:
            if not isinstance(event, Mapping):
                raise MalformedItemError("messaging event is not an object")
            mention, reply = message(account, event, now)
        except BAD_ITEM as err:
            found.skipped += 1
            logger.warning("%s: skipping malformed webhook message: %s", account.source, why(err))
            continue
        if mention is not None:
            found.mentions.append(mention)
        if reply is not None:
            found.dm_answers.append(reply)
    return found


def _add(found: WebhookItems, mention: Mention | None, reply: Reply | None) -> None:
    if mention is not None:
        found.mentions.append(mention)
    if reply is not None:
        found.replies.append(reply)
