"""Threads API (graph.threads.net): keyword search and replies to the brand's threads, with the brand's answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from connectors._cursor import dump_cursor, load_cursor
from connectors._meta import (
    BAD_ITEM,
    GONE_CODE,
    GraphConnectorBase,
    GraphSourceError,
    MetaConfig,
    why,
)
from connectors._parse import MalformedItemError, required_id, required_time, text_id
from connectors._social import ThreadNode, brand_answers
from connectors._watermark import Watermark, dump_marks, load_marks
from listener.domain import Cursor, Mention, Page, Reply

logger = logging.getLogger(__name__)

FIELDS = "id,text,username,permalink,timestamp,media_type,is_reply,replied_to,root_post,is_quote_post"


class ThreadsConfig(MetaConfig):
    """[connectors.<name>] with type = "threads"."""

    required_when_enabled: ClassVar[dict[str, str]] = {
        "access_token": "threads_basic, threads_keyword_search, threads_read_replies",
        "username": "the brand's Threads username, to recognise its replies",
    }

    type: str = "threads"
    base_url: str = Field(default="https://graph.threads.net", description="Threads API root.")
    api_version: str = Field(default="v1.0", description="Threads API version in every path.")
    user_id: str = Field(default="me", description="The brand's Threads user id ('me': the token's user).")
    username: str = Field(default="", description="The brand's Threads username: its posts are the brand's answers.")
    search: tuple[str, ...] | None = Field(
        default=None, description="Keyword searches (default: every brand keyword; [] turns search off)."
    )
    search_mode: str = Field(default="KEYWORD", pattern="^(KEYWORD|TAG)$", description="KEYWORD or TAG (topic tags).")
    replies_to_brand: bool = Field(default=True, description="Read the conversations under the brand's newest threads.")
    thread_checks: int = Field(
        default=10, ge=0, le=100, description="Brand threads whose conversation is read per poll."
    )



def _ref(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return text_id(value.get("id")) if isinstance(value, Mapping) else text_id(value)


class ThreadsConnector(GraphConnectorBase[ThreadsConfig]):
    """Polls keyword search and the brand's conversations; see docs/sources-social.md."""

    type_name: ClassVar[str] = "threads"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "public posts matching a keyword or topic tag", "replies under the brand's threads", "the brand's replies",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "public search before threads_keyword_search is approved (own posts only)",
        "keywords Meta deems sensitive (empty answer)", "more than 2,200 searches a day per user",
        "private profiles' posts", "replies under others' threads unless they match a search",
    )


    def setup(self) -> None:
        """Search terms, deduplicated (each query counts against the daily quota)."""
        super().setup()
        terms = self.config.search if self.config.search is not None else [k for b in self.brands for k in b.keywords]
        # "@acme" and "#acme" find what "acme" finds; each query counts against the daily 2,200.
        unique: dict[str, str] = {}
        for term in terms:
            cleaned = term.strip().lstrip("#@").strip()
            if cleaned:
                unique.setdefault(cleaned.casefold(), cleaned)
        self.terms = list(unique.values())

    def _is_brand(self, name: str) -> bool:
        own_name = self.config.username.lstrip("@").lower()
        return bool(name) and (name.lower() == own_name or bool(self.own(name, f"@{name}")))

    async def poll(self, since: Cursor | None) -> Page:
        """Each search term down to its mark (server-side `since`), then the brand's newest conversations."""
        if self.paused():
            return Page([], since)
        state = load_cursor(since, source=self.name)
        keys = [f"search:{t}" for t in self.terms] + (["conversations"] if self.config.replies_to_brand else [])
        marks = load_marks(state, keys)
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        for term in self.terms:
            if self.paused_until is not None:
                break
            await self._search(term, marks[f"search:{term}"], mentions, replies)
        if self.config.replies_to_brand and self.paused_until is None and self.config.thread_checks:
            await self._conversations(marks["conversations"], mentions, replies)
        cursor = dump_cursor({"v": 1, "streams": dump_marks(marks)})
        return Page(mentions=list(mentions.values()), cursor=cursor, replies=list(replies.values()))

    async def _search(self, term: str, mark: Watermark, mentions: dict[str, Mention],
                      replies: dict[str, Reply]) -> None:
        overlap, floor = self.config.overlap, mark.floor(self.config.overlap)
        params = [("q", term), ("search_type", "RECENT"), ("search_mode", self.config.search_mode),
                  ("fields", FIELDS), ("limit", str(self.config.limit))]
        if floor is not None:
            params.append(("since", str(int(floor.timestamp()))))
        taken: list[tuple[str, datetime]] = []
        try:
            async for items in self.pages("/keyword_search", params, max_pages=1 if mark.fresh else None):
                for item in items:
                    self._take(item, mark, mentions, replies, taken)
        finally:
            mark.advance(taken, overlap, started=self.clock.now())

    async def _conversations(self, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply]) -> None:
        """Replies under the brand's newest threads (`/{id}/conversation`: every depth, flat)."""
        threads: list[str] = []
        async for items in self.pages(f"/{self.config.user_id}/threads", [("fields", "id,timestamp"),
                                                                          ("limit", str(self.config.thread_checks))],
                                      max_pages=1):
            threads += [str(t["id"]) for t in items if isinstance(t, Mapping) and text_id(t.get("id"))]
        taken: list[tuple[str, datetime]] = []
        try:
            for thread in threads[: self.config.thread_checks]:
                if self.paused_until is not None:
                    break
                try:
                    async for items in self.pages(f"/{thread}/conversation", [("fields", FIELDS),
                                                                              ("limit", str(self.config.limit))]):
                        for item in items:
                            self._take(item, mark, mentions, replies, taken, root=thread)
                except GraphSourceError as err:
                    if err.error.code != GONE_CODE:
                        raise
                    logger.info("%s: thread %s is gone (%s); skipped", self.name, thread, err.error.message)
        finally:
            mark.advance(taken, self.config.overlap, started=self.clock.now())

    def _take(self, item: Any, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply],
              taken: list[tuple[str, datetime]], root: str | None = None) -> None:
        try:
            if not isinstance(item, Mapping):
                raise MalformedItemError("post is not an object")
            ident = required_id(item, "id", "post")
            created = required_time(item.get("timestamp"), "timestamp")
            name = text_id(item.get("username")) or ""
            if not name:
                raise MalformedItemError("post has no username")
            parent = _ref(item, "replied_to")
            if self._is_brand(name):
                if parent:
                    replies[ident] = self._reply(item, ident, created, name, parent)
                return
            if not mark.is_new(ident, created, self.config.overlap):
                return
            mentions[ident] = self.to_mention(item, ident, created, name, parent, _ref(item, "root_post") or root)
            taken.append((ident, created))
        except BAD_ITEM as err:
            self.skip(item, why(err))

    def to_mention(self, item: Mapping[str, Any], ident: str, created: datetime, name: str, parent: str | None,
                   root: str | None) -> Mention:
        """A Threads post (or reply) as a Mention; replies under the brand's own threads are about the brand."""
        text = str(item.get("text") or "")
        brands = self.attribute(text)
        if root and not brands and self.config.replies_to_brand and parent:
            brands = tuple(self.config.attribute_to) or self.own(self.config.username) or \
                tuple(b.name for b in self.brands[:1])
        return Mention(source=self.name, external_id=ident, text=text, author=f"@{name}", author_name=name,
                       created_at=created, url=str(item.get("permalink") or ""), in_reply_to=parent,
                       conversation_id=root or ident, brands=brands, raw={**item, "channel": "public_mention"})

    def _reply(self, item: Mapping[str, Any], ident: str, created: datetime, name: str, parent: str) -> Reply:
        return Reply(source=self.name, external_id=ident, in_reply_to=parent, author=f"@{name}", created_at=created,
                     url=str(item.get("permalink") or ""), text=str(item.get("text") or ""))

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Read open mentions' conversations for the brand's first answer after each (a direct answer first)."""
        threads: dict[str, list[Mention]] = {}
        for mention in list(to)[: self.config.reply_checks]:
            threads.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        found: list[Reply] = []
        for thread, waiting in threads.items():
            if self.paused():
                break
            nodes: list[ThreadNode] = []
            try:
                async for items in self.pages(f"/{thread}/conversation", [("fields", FIELDS),
                                                                          ("limit", str(self.config.limit))]):
                    for item in items:
                        try:
                            if not isinstance(item, Mapping):
                                raise MalformedItemError("post is not an object")
                            ident = required_id(item, "id", "post")
                            name = text_id(item.get("username")) or ""
                            when = required_time(item.get("timestamp"))
                            nodes.append(ThreadNode(ident, _ref(item, "replied_to"), when, self._is_brand(name), item))
                        except BAD_ITEM as err:
                            self.skip(item, why(err))
            except GraphSourceError as err:
                if err.error.code != GONE_CODE:
                    raise
                continue
            answered = brand_answers([m.external_id for m in waiting], nodes)
            for mention in waiting:
                node = answered.get(mention.external_id)
                if node is not None and node.created_at > mention.created_at:
                    name = text_id(node.item.get("username")) or self.config.username
                    found.append(Reply(source=self.name, external_id=node.id, in_reply_to=mention.external_id,
                                       author=f"@{name}", created_at=node.created_at,
                                       url=str(node.item.get("permalink") or ""),
                                       text=str(node.item.get("text") or "")))
        return found
