"""Hacker News through the Algolia search API: stories and comments, and the brand's answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from pydantic import Field

from config.types import Duration
from connectors._parse import MalformedItemError, required_id, required_time, text_id, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig, ThreadNode, brand_answers, data_of, list_at
from connectors._watermark import Watermark
from connectors.htmltext import html_to_text
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import TransientSourceError

logger = logging.getLogger(__name__)

ITEM_URL = "https://news.ycombinator.com/item?id="
BLOCKED_WAIT = 3600.0  # Algolia blocks an IP that passed 10,000 requests in an hour


class HackerNewsConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "hackernews"."""

    type: str = "hackernews"
    base_url: str = Field(default="https://hn.algolia.com/api/v1", description="Algolia HN API root.")
    search: tuple[str, ...] | None = Field(default=None, description="Search terms; default: the brands' keywords.")
    tags: str = Field(default="(story,comment)", description="Algolia tags filter for the search streams.")
    hits_per_page: int = Field(default=50, ge=1, le=1000, description="Page size.")
    brand_comments: bool = Field(default=True, description="Poll the brand accounts' comments for replies.")
    overlap: Duration = Field(default=timedelta(minutes=10), description="Re-read window for late-indexed items.")
    thread_checks: int = Field(default=20, ge=0, le=1000, description="Open mentions' stories fetched per reply sweep.")



def _int_text(value: Any) -> str | None:
    """Algolia sends objectID as a string and parent_id/story_id as ints: compare them as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return text_id(value)


def hit_time(raw: Mapping[str, Any]) -> datetime:
    """A hit's time: `created_at_i` (epoch seconds), else `created_at` (ISO)."""
    value = raw.get("created_at_i")
    return required_time(value if value is not None else raw.get("created_at"), "created_at")


def hit_text(raw: Mapping[str, Any]) -> str:
    """Plain text of a story (title, text, link) or comment (its HTML body)."""
    if raw.get("comment_text"):
        return html_to_text(str(raw["comment_text"]))
    parts = [str(raw.get("title") or ""), html_to_text(str(raw.get("story_text") or "")), str(raw.get("url") or "")]
    return "\n\n".join(p for p in parts if p)


def to_mention(raw: Mapping[str, Any], *, source: str, brands: tuple[str, ...]) -> Mention:
    """Map an Algolia hit (story or comment) to a Mention."""
    ident = required_id(raw, "objectID", "hit")
    author = text_id(raw.get("author"))
    if not author:
        raise MalformedItemError("hit has no author")
    return Mention(
        source=source,
        external_id=ident,
        text=hit_text(raw),
        author=author,
        created_at=hit_time(raw),
        url=ITEM_URL + ident,
        in_reply_to=_int_text(raw.get("parent_id")),
        conversation_id=_int_text(raw.get("story_id")) or ident,
        brands=brands,
        raw=dict(raw),
    )


def to_reply(raw: Mapping[str, Any], *, source: str, in_reply_to: str | None = None) -> Reply:
    """Map a brand account's comment (a hit or an `/items` node) to a Reply."""
    ident = _int_text(raw.get("objectID")) or _int_text(raw.get("id"))
    target = in_reply_to or _int_text(raw.get("parent_id"))
    author = text_id(raw.get("author"))
    if not ident or not target or not author:
        raise MalformedItemError("comment has no id, parent_id or author")
    body = raw.get("comment_text") if raw.get("comment_text") is not None else raw.get("text")
    return Reply(
        source=source, external_id=ident, in_reply_to=target, author=author, created_at=hit_time(raw),
        url=ITEM_URL + ident, text=html_to_text(str(body or "")),
    )


@dataclass(frozen=True, slots=True)
class _Stream:
    key: str
    query: str
    tags: str


class HackerNewsConnector(HttpConnectorBase[HackerNewsConfig]):
    """Polls `search_by_date` with a moving `created_at_i` floor; see docs/sources-social.md."""

    type_name: ClassVar[str] = "hackernews"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "stories and comments matching a search", "the brand's replies (comment tree)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "more than 1,000 hits a search (Algolia's cap)", "edits and deletions after an item was read",
        "dead and flagged items", "the linked article itself (title, text and URL only)",
    )

    def setup(self) -> None:
        """Search and brand-comment streams from the config."""
        config = self.config
        terms = config.search if config.search is not None else tuple(k for b in self.brands for k in b.keywords)
        self.streams = [_Stream(f"search:{t}", t, self.config.tags) for t in dict.fromkeys(terms)]
        if self.config.brand_comments:
            users = dict.fromkeys(h.strip().lstrip("@") for b in self.brands for h in b.handles)
            self.streams += [_Stream(f"user:{u.casefold()}", "", f"comment,author_{u}") for u in users if u]

    async def _get_json(self, path: str, params: Sequence[tuple[str, str]], ok: frozenset[int] = frozenset()) -> Any:
        resp = await self.get(self.config.base_url + path, params, ok=ok | {403})
        if resp.status == 403:
            # The API has no credentials: a 403 means Algolia blocked this IP for going over
            # 10,000 requests an hour. Waiting is the cure, not an operator.
            raise TransientSourceError(f"{self.name}: HTTP 403 from {path}: blocked for exceeding the hourly "
                                       "request quota?", retry_after=BLOCKED_WAIT)
        return resp

    async def poll(self, since: Cursor | None) -> Page:
        """Fetch hits newer than each stream's mark (first run: the newest page only)."""
        return await self.read_marked(since, [(s.key, partial(self._poll_stream, s)) for s in self.streams])

    async def _poll_stream(
        self, stream: _Stream, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply]
    ) -> None:
        overlap, started = self.config.overlap, self.clock.now()
        params = [("query", stream.query), ("tags", stream.tags), ("hitsPerPage", str(self.config.hits_per_page))]
        floor = mark.floor(overlap)
        if floor is not None:
            params.append(("numericFilters", f"created_at_i>={int(floor.timestamp())}"))
        taken: list[tuple[str, datetime]] = []
        try:
            for page in range(self.config.max_pages):
                data = data_of(await self._get_json("/search_by_date", [*params, ("page", str(page))]),
                               f"{self.name}: search_by_date")
                for hit in list_at(data, "hits", f"{self.name}: search_by_date"):
                    self._take(hit, mark, mentions, replies, taken)
                pages = data.get("nbPages")
                if mark.fresh or not isinstance(pages, int) or page + 1 >= pages:
                    return
            logger.info("%s: %s: more than %d pages new; the rest waits for the next poll",
                        self.name, stream.key, self.config.max_pages)
        finally:
            mark.advance(taken, overlap, started=started)

    def _take(self, hit: Any, mark: Watermark, mentions: dict[str, Mention], replies: dict[str, Reply],
              taken: list[tuple[str, datetime]]) -> None:
        if not isinstance(hit, Mapping):
            self.skip(hit, "hit is not an object")
            return
        try:
            ident, when = required_id(hit, "objectID", "hit"), hit_time(hit)
            if not mark.is_new(ident, when, self.config.overlap):
                return
            if self.own(text_id(hit.get("author"))):
                if hit.get("parent_id") is not None:
                    reply = to_reply(hit, source=self.name)
                    replies[reply.external_id] = reply
            else:
                mention = to_mention(hit, source=self.name, brands=self.attribute(hit_text(hit)))
                mentions[mention.external_id] = mention
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self.skip(hit, why_skipped(err), "objectID")
            return
        taken.append((ident, when))

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Fetch each open mention's story (`/items/{story_id}`) and look for a brand comment under it."""
        by_story: dict[str, list[Mention]] = {}
        for mention in to:
            by_story.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        found: list[Reply] = []
        for story, waiting in list(by_story.items())[: self.config.thread_checks]:
            resp = await self._get_json(f"/items/{story}", [], ok=frozenset({404}))
            if resp.status == 404:
                continue
            nodes = self._flatten(data_of(resp, f"{self.name}: items/{story}"))
            for mention_id, node in brand_answers([m.external_id for m in waiting], nodes).items():
                try:
                    found.append(to_reply(node.item, source=self.name, in_reply_to=mention_id))
                except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                    self.skip(node.item, why_skipped(err))
        return found

    def _flatten(self, root: Mapping[str, Any]) -> list[ThreadNode]:
        nodes: list[ThreadNode] = []
        pending: list[tuple[Any, str | None]] = [(root, None)]
        while pending:
            item, parent = pending.pop()
            if not isinstance(item, Mapping):
                continue
            ident = _int_text(item.get("id"))
            try:
                when = hit_time(item)
            except MalformedItemError:
                when = None
            if ident is None or when is None:
                continue  # deleted items come back without id or time
            nodes.append(ThreadNode(ident, _int_text(item.get("parent_id")) or parent, when,
                                    bool(self.own(text_id(item.get("author")))), item))
            children = item.get("children")
            if isinstance(children, list):
                pending.extend((child, ident) for child in children)
        return nodes
