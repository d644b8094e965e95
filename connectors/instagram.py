"""Instagram Graph API: comments on the business account's media, media it is tagged or @mentioned in, its answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator

from config.types import Duration
from connectors._cursor import dump_cursor, load_cursor
from connectors._meta import (
    BAD_ITEM,
    GONE_CODE,
    GraphConnectorBase,
    GraphSourceError,
    MetaConfig,
    why,
)
from connectors._meta_webhook import WebhookItems, entry_items
from connectors._parse import MalformedItemError, mapping_of, optional_time, required_id, required_time, text_id
from connectors._watermark import Watermark, dump_marks, load_marks
from listener.domain import Cursor, Mention, Page, Reply

logger = logging.getLogger(__name__)

MEDIA_FIELDS = "id,caption,timestamp,permalink,username,comments_count,media_type"
_COMMENT = "id,text,timestamp,username,from{id,username},parent_id"
COMMENT_FIELDS = f"{_COMMENT},replies{{{_COMMENT}}}"
TAG_FIELDS = "id,caption,timestamp,permalink,username,media_type"
MAX_COUNTS = 200  # media whose comment count the cursor remembers


class InstagramConfig(MetaConfig):
    """[connectors.<name>] with type = "instagram"."""

    required_when_enabled: ClassVar[dict[str, str]] = {"access_token": "", "ig_user_id": ""}

    type: str = "instagram"
    ig_user_id: str = Field(default="", description="The Instagram professional account's id (IG User id).")
    username: str = Field(default="", description="The account's username, to recognise its answers.")
    comments: bool = Field(default=True, description="Read comments on the account's newest media.")
    media_checks: int = Field(default=25, ge=1, le=100, description="Newest media whose comments are read per poll.")
    full_sweep: Duration = Field(
        default=timedelta(hours=1), description="Read comments of all `media_checks` media at least this often."
    )
    tags: bool = Field(default=True, description="Read media the account is tagged in (/{ig-user-id}/tags).")

    @field_validator("ig_user_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        if value and not value.strip().isdigit():
            raise ValueError("must be the numeric IG User id (GET /{page-id}?fields=instagram_business_account)")
        return value.strip()



def author_of(comment: Mapping[str, Any]) -> tuple[str, str]:
    """(`from.id`, username) of a comment; `username` alone when `from` is absent."""
    sender = mapping_of(comment.get("from"))
    ident = text_id(sender.get("id")) or ""
    name = text_id(sender.get("username")) or text_id(comment.get("username")) or ""
    if not ident and not name:
        raise MalformedItemError("comment has neither from nor username")
    return ident, name


def comment_url(media: Mapping[str, Any], comment_id: str) -> str:
    """`<media permalink>c/<comment id>/` (a web convention): each comment has its own URL.

    Comments must not share the media's URL: the store treats one URL as one post.
    """
    permalink = str(media.get("permalink") or "")
    return f"{permalink.rstrip('/')}/c/{comment_id}/" if permalink else ""


class InstagramConnector(GraphConnectorBase[InstagramConfig]):
    """Polls comments on the newest media and media the account is tagged in; see docs/sources-social.md."""

    type_name: ClassVar[str] = "instagram"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "comments and replies on the account's media", "the account's own replies", "media it is tagged in",
        "@mentions in captions and comments (webhook)", "direct messages (webhook)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "posts naming the brand without tag or @mention (no search)", "@mentions when polling (webhook only)",
        "comments on ads (Marketing API)", "stories' replies", "comments on media beyond `media_checks`",
    )

    webhook_object: ClassVar[str] = "instagram"

    @property
    def webhook_id(self) -> str:
        """The IG User id (`entry[].id` of Instagram comment, mention and messaging webhooks)."""
        return self.config.ig_user_id

    def is_brand(self, ident: str, name: str = "") -> bool:
        """The account itself (id or username) or one of the brand's handles."""
        handle = self.config.username.lstrip("@").lower()
        return ident == self.config.ig_user_id or bool(handle and name.lower() == handle) or bool(self.own(ident, name))

    def _is_account(self, ident: str, name: str) -> bool:
        return self.is_brand(ident, name)

    async def webhook_entry(self, obj: str, entry: Mapping[str, Any], now: datetime) -> WebhookItems:
        """Map one verified webhook entry; `mentions` changes are fetched with mentioned_media/comment."""
        return await entry_items(self.webhook_account(), obj, entry, now, self.mentioned)

    async def poll(self, since: Cursor | None) -> Page:
        """Comments on media whose comment count moved, then tagged media, newest first down to the marks."""
        if self.paused():
            return Page([], since)
        state = load_cursor(since, source=self.name)
        marks = load_marks(state, ("comments", "tags"))
        counts = mapping_of(state.get("counts"))
        full = optional_time(state.get("full"))
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        if self.config.comments:
            started = self.clock.now()
            # Now and then every watched media is read, count moved or not (a deletion can hide a new comment).
            whole = full is None or started - full >= self.config.full_sweep
            counts = await self._comments({} if whole else counts, marks["comments"], mentions, replies)
            if whole and self.paused_until is None:
                full = started
        if self.config.tags and self.paused_until is None:
            await self._tags(marks["tags"], mentions)
        cursor = dump_cursor({"v": 1, "streams": dump_marks(marks),
                              "counts": counts, "full": full.isoformat() if full else None})
        return Page(mentions=list(mentions.values()), cursor=cursor, replies=list(replies.values()))

    async def _comments(self, counts: Mapping[str, Any], mark: Watermark, mentions: dict[str, Mention],
                        replies: dict[str, Reply]) -> dict[str, Any]:
        """Read comments of the newest media whose `comments_count` changed; returns the counts to remember."""
        media: list[Mapping[str, Any]] = []
        params = [("fields", MEDIA_FIELDS), ("limit", str(min(self.config.media_checks, self.config.limit)))]
        async for items in self.pages(f"/{self.config.ig_user_id}/media", params):
            media += [m for m in items if isinstance(m, Mapping) and text_id(m.get("id"))]
            if len(media) >= self.config.media_checks:
                break
        media = media[: self.config.media_checks]
        seen_counts = dict(counts)
        taken: list[tuple[str, datetime]] = []
        try:
            for item in media:
                if self.paused_until is not None:
                    break  # the counts of unread media stay as they were: read after the pause
                ident = str(item["id"])
                count = item.get("comments_count")
                if isinstance(count, int) and seen_counts.get(ident) == count and not mark.fresh:
                    continue  # nothing new under this media since the last poll
                if isinstance(count, int) and count == 0:
                    seen_counts[ident] = 0
                    continue
                if await self._media_comments(item, mark, mentions, replies, taken):
                    seen_counts[ident] = count
        finally:
            mark.advance(taken, self.config.overlap, started=self.clock.now())
        keep = [str(m["id"]) for m in media] + [k for k in seen_counts if k not in {str(m["id"]) for m in media}]
        return {k: seen_counts[k] for k in keep[:MAX_COUNTS] if k in seen_counts}

    async def _media_comments(self, media: Mapping[str, Any], mark: Watermark, mentions: dict[str, Mention],
                              replies: dict[str, Reply], taken: list[tuple[str, datetime]]) -> bool:
        """One media's comments with their inlined replies; False when a usage pause interrupted it."""
        media_id = str(media["id"])
        params = [("fields", COMMENT_FIELDS), ("limit", str(self.config.limit))]
        try:
            async for items in self.pages(f"/{media_id}/comments", params, max_pages=1 if mark.fresh else None):
                for comment in items:
                    nested = comment.get("replies") if isinstance(comment, Mapping) else None
                    thread = self._comment(comment, media, None, mark, mentions, replies, taken)
                    answers = nested.get("data") if isinstance(nested, Mapping) else None
                    for answer in answers if isinstance(answers, list) and thread else ():
                        self._comment(answer, media, thread, mark, mentions, replies, taken)
        except GraphSourceError as err:
            if err.error.code != GONE_CODE:
                raise
            logger.info("%s: media %s is gone (%s); skipped", self.name, media_id, err.error.message)
        return self.paused_until is None

    def _comment(self, comment: Any, media: Mapping[str, Any], thread: str | None, mark: Watermark,
                 mentions: dict[str, Mention], replies: dict[str, Reply],
                 taken: list[tuple[str, datetime]]) -> str | None:
        """Take one comment (the account's becomes a Reply); returns its id for its replies' thread."""
        try:
            if not isinstance(comment, Mapping):
                raise MalformedItemError("comment is not an object")
            ident = required_id(comment, "id", "comment")
            created = required_time(comment.get("timestamp"), "timestamp")
            author, name = author_of(comment)
            parent = text_id(comment.get("parent_id")) or thread
            if self._is_account(author, name):
                if parent:
                    replies[ident] = self._reply(comment, ident, created, name, parent, media)
                return ident
            if mark.is_new(ident, created, self.config.overlap):
                mentions[ident] = self.comment_mention(comment, ident, created, author, name, parent, media)
                taken.append((ident, created))
            return ident
        except BAD_ITEM as err:
            self.skip(comment, why(err))
            return None

    def comment_mention(self, comment: Mapping[str, Any], ident: str, created: datetime, author: str, name: str,
                        parent: str | None, media: Mapping[str, Any]) -> Mention:
        """A customer's comment as a Mention (the thread is its top-level comment)."""
        text = str(comment.get("text") or "")
        return Mention(
            source=self.name, external_id=ident, text=text, author=f"@{name}" if name else author, author_name=name,
            created_at=created, url=comment_url(media, ident), in_reply_to=parent,
            conversation_id=parent or ident, brands=self.attribute(text),
            raw={**comment, "media_id": text_id(media.get("id")), "channel": "public_mention"},
        )

    def _reply(self, comment: Mapping[str, Any], ident: str, created: datetime, name: str, answers: str,
               media: Mapping[str, Any]) -> Reply:
        return Reply(source=self.name, external_id=ident, in_reply_to=answers, author=f"@{name}" if name else
                     self.config.ig_user_id, created_at=created, url=str(media.get("permalink") or ""),
                     text=str(comment.get("text") or ""))

    async def _tags(self, mark: Watermark, mentions: dict[str, Mention]) -> None:
        """Media other accounts tagged the brand in, newest first."""
        overlap, first_run = self.config.overlap, mark.fresh
        taken: list[tuple[str, datetime]] = []
        params = [("fields", TAG_FIELDS), ("limit", str(self.config.limit))]
        try:
            async for items in self.pages(f"/{self.config.ig_user_id}/tags", params):
                times = []
                for item in items:
                    try:
                        mention = self.media_mention(item, "tagged")
                    except BAD_ITEM as err:
                        self.skip(item, why(err))
                        continue
                    times.append(mention.created_at)
                    if mark.is_new(mention.external_id, mention.created_at, overlap):
                        mentions[mention.external_id] = mention
                        taken.append((mention.external_id, mention.created_at))
                if first_run or (times and mark.reached(min(times), overlap)):
                    break
        finally:
            mark.advance(taken, overlap, started=self.clock.now())

    def media_mention(self, item: Any, how: str) -> Mention:
        """Someone else's media that tags or @mentions the account, as a Mention about the brand."""
        if not isinstance(item, Mapping):
            raise MalformedItemError("media is not an object")
        ident = required_id(item, "id", "media")
        created = required_time(item.get("timestamp"), "timestamp")
        name = text_id(item.get("username")) or ""
        text = str(item.get("caption") or "")
        brands = tuple(dict.fromkeys((*self.attribute(text), *self._account_brands())))
        return Mention(source=self.name, external_id=ident, text=text, author=f"@{name}" if name else "instagram user",
                       author_name=name, created_at=created, url=str(item.get("permalink") or ""),
                       conversation_id=ident, brands=brands, raw={**item, "seen_because": how,
                                                                   "channel": "public_mention"})

    def _account_brands(self) -> tuple[str, ...]:
        """Brands the account belongs to: tagging or @mentioning it is about them."""
        found = self.own(self.config.ig_user_id, self.config.username, f"@{self.config.username}")
        return found or tuple(self.config.attribute_to) or tuple(b.name for b in self.brands[:1])

    async def mentioned(self, media_id: str, comment_id: str | None) -> Mention | None:
        """Fetch what a `mentions` webhook points at: a caption (mentioned_media) or a comment (mentioned_comment)."""
        if comment_id:
            fields = f"mentioned_comment.comment_id({comment_id}){{id,text,timestamp,username,media{{id,permalink}}}}"
        else:
            fields = f"mentioned_media.media_id({media_id}){{{TAG_FIELDS}}}"
        data = await self.graph(f"/{self.config.ig_user_id}", [("fields", fields)])
        try:
            if comment_id:
                comment = data.get("mentioned_comment")
                if not isinstance(comment, Mapping):
                    raise MalformedItemError("no mentioned_comment in the answer")
                given = comment.get("media")
                media: Mapping[str, Any] = given if isinstance(given, Mapping) else {"id": media_id}
                ident = required_id(comment, "id", "comment")
                _, name = author_of(comment)
                mention = self.comment_mention(comment, ident, required_time(comment.get("timestamp"), "timestamp"),
                                               "", name, None, media)
                return replace(mention, brands=tuple(dict.fromkeys((*mention.brands, *self._account_brands()))),
                               raw={**mention.raw, "seen_because": "mentioned"})
            return self.media_mention(data.get("mentioned_media"), "mentioned")
        except BAD_ITEM as err:
            self.skip(data, why(err))
            return None

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """For open comment mentions, read the thread's replies and report the account's first answer after each."""
        found: list[Reply] = []
        threads: dict[str, list[Mention]] = {}
        for mention in list(to)[: self.config.reply_checks]:
            raw = mention.raw or {}
            if raw.get("channel") == "direct_message" or raw.get("seen_because") in ("tagged", "mentioned"):
                continue  # DMs: echoes via webhook; others' media: the account answers elsewhere
            threads.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        params = [("fields", _COMMENT), ("limit", str(self.config.limit))]
        for thread, waiting in threads.items():
            if self.paused():
                break
            answers: list[Reply] = []
            try:
                async for items in self.pages(f"/{thread}/replies", params):
                    for comment in items:
                        try:
                            ident = required_id(comment, "id", "comment")
                            author, name = author_of(comment)
                            if self._is_account(author, name):
                                answers.append(self._reply(comment, ident, required_time(comment.get("timestamp")),
                                                           name, thread, {}))
                        except BAD_ITEM as err:
                            self.skip(comment, why(err))
            except GraphSourceError as err:
                if err.error.code != GONE_CODE:
                    raise
                continue
            for mention in waiting:
                later = [a for a in answers if a.created_at > mention.created_at]
                if later:
                    first = min(later, key=lambda a: a.created_at)
                    found.append(Reply(source=self.name, external_id=first.external_id,
                                       in_reply_to=mention.external_id, author=first.author,
                                       created_at=first.created_at, url=mention.url, text=first.text))
        return found
