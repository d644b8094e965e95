"""Discourse forums: latest posts (and optional searches), staff answers found in the topic."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr

from connectors._cursor import dump_cursor, load_cursor
from connectors._http import MalformedResponseError, Response, parse_retry_after
from connectors._parse import MalformedItemError, mapping_of, required_time, text_id, why_skipped
from connectors._social import HttpConnectorBase, HttpSourceConfig, data_of, list_at, secret
from connectors.htmltext import html_to_text
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import TransientSourceError

logger = logging.getLogger(__name__)

SEARCH_PAGE_LIMIT = 10  # SearchController#show answers 400 to page > 10


class DiscourseConfig(HttpSourceConfig):
    """[connectors.<name>] with type = "discourse"."""

    type: str = "discourse"
    base_url: str = Field(description="Forum root, e.g. https://forum.example.com.", examples=["https://forum.example.com"])
    api_key: SecretStr | None = Field(default=None, description="Admin or user API key; ${DISCOURSE_API_KEY}.")
    api_username: str = Field(default="system", description="Api-Username sent with api_key.")
    latest_posts: bool = Field(default=True, description="Poll /posts.json (every new post on the forum).")
    search: tuple[str, ...] = Field(
        default=(), description="Also search these terms (for forums too busy to read whole)."
    )
    thread_checks: int = Field(default=20, ge=0, le=1000, description="Open mentions' topics fetched per reply sweep.")



def post_key(topic_id: Any, post_number: Any) -> str:
    """A post's mention id: `<topic_id>/<post_number>` (stable, and what replies point at)."""
    topic, number = text_id(topic_id), text_id(post_number)
    if not topic or not number:
        raise MalformedItemError("post has no topic_id or post_number")
    return f"{topic}/{number}"


def _text(raw: Mapping[str, Any], title: str | None) -> str:
    body = html_to_text(str(raw.get("cooked") or "")) or str(raw.get("raw") or raw.get("blurb") or "")
    if title and raw.get("post_number") == 1:
        return f"{title}\n\n{body}".strip()
    return body


def to_mention(raw: Mapping[str, Any], *, base_url: str, source: str, brands: tuple[str, ...],
               title: str | None = None, slug: str | None = None) -> Mention:
    """Map a post (from /posts.json, /search.json or a topic) to a Mention."""
    key = post_key(raw.get("topic_id"), raw.get("post_number"))
    username = text_id(raw.get("username"))
    if not username:
        raise MalformedItemError("post has no username")
    topic, number = key.split("/")
    parent = raw.get("reply_to_post_number")
    slug = slug or text_id(raw.get("topic_slug")) or "-"
    return Mention(
        source=source, external_id=key, text=_text(raw, title or text_id(raw.get("topic_title"))), author=username,
        created_at=required_time(raw.get("created_at")), url=f"{base_url}/t/{slug}/{topic}/{number}",
        author_name=str(raw.get("name") or ""),
        in_reply_to=f"{topic}/{parent}" if isinstance(parent, int) and parent > 0 else None,
        conversation_id=topic, brands=brands, raw=dict(raw),
    )


def to_reply(raw: Mapping[str, Any], *, base_url: str, source: str, in_reply_to: str | None = None) -> Reply:
    """Map a brand account's post to a Reply (to `reply_to_post_number`, else the topic's first post)."""
    key = post_key(raw.get("topic_id"), raw.get("post_number"))
    topic, number = key.split("/")
    parent = raw.get("reply_to_post_number")
    target = in_reply_to or f"{topic}/{parent if isinstance(parent, int) and parent > 0 else 1}"
    slug = text_id(raw.get("topic_slug")) or "-"
    return Reply(source=source, external_id=key, in_reply_to=target, author=text_id(raw.get("username")) or "",
                 created_at=required_time(raw.get("created_at")), url=f"{base_url}/t/{slug}/{topic}/{number}",
                 text=_text(raw, None))


def _more_results(data: Mapping[str, Any]) -> bool:
    """Whether a search page has a next page.

    `/search.json` is Discourse's full-page search (type filter "topic"): it sets
    `grouped_search_result.more_full_page_results` and leaves `more_posts` null; `more_posts` is
    the header search's flag, still read in case a proxy or an old version answers that way.
    """
    grouped = data.get("grouped_search_result")
    if not isinstance(grouped, Mapping):
        return False
    return bool(grouped.get("more_full_page_results") or grouped.get("more_posts"))


class DiscourseConnector(HttpConnectorBase[DiscourseConfig]):
    """Polls a Discourse forum by post id; see docs/sources-social.md."""

    type_name: ClassVar[str] = "discourse"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "every new post on the forum, or posts matching a search", "staff replies in the topic",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "private messages", "categories the API user cannot read", "edits and deletions after a post was read",
        "search beyond its 10 pages",
    )

    def setup(self) -> None:
        """The API key headers, when a key is configured."""
        if secret(self.config.api_key):
            self.headers.update({"Api-Key": secret(self.config.api_key), "Api-Username": self.config.api_username})

    async def _json(self, path: str, params: Sequence[tuple[str, str]] = (), *,
                    ok: frozenset[int] = frozenset()) -> Response:
        resp = await self.get(self.config.base_url + path, params, ok=ok | {429})
        if resp.status == 429:
            raise self._rate_limited(resp)
        return resp

    def _rate_limited(self, resp: Response) -> TransientSourceError:
        """`Retry-After`, else the body's `extras.wait_seconds`; the limiter's code names which limit."""
        wait = parse_retry_after(resp.headers.get("Retry-After"), self.clock.now())
        data = resp.data
        if data is None:
            try:
                data = json.loads(resp.body)
            except (ValueError, RecursionError):
                data = None
        extras = data.get("extras") if isinstance(data, dict) else None
        if wait is None and isinstance(extras, dict) and isinstance(extras.get("wait_seconds"), int | float):
            wait = float(extras["wait_seconds"])
        code = resp.headers.get("Discourse-Rate-Limit-Error-Code", "")
        return TransientSourceError(f"{self.name}: HTTP 429 rate limited {code}".rstrip(), retry_after=wait)

    async def poll(self, since: Cursor | None) -> Page:
        """Read posts newer than the last post id seen (first run: the newest page only)."""
        state = load_cursor(since, source=self.name)
        marks = {k: v for k, v in mapping_of(state.get("marks")).items() if isinstance(v, int)}
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        if self.config.latest_posts:
            await self._latest(marks, mentions, replies)
        for term in dict.fromkeys(self.config.search):
            await self._search(term, marks, mentions, replies)
        return Page(mentions=list(mentions.values()), cursor=dump_cursor({"v": 1, "marks": marks}),
                    replies=list(replies.values()))

    async def _latest(self, marks: dict[str, int], mentions: dict[str, Mention], replies: dict[str, Reply]) -> None:
        mark, before, newest = marks.get("latest"), None, marks.get("latest")
        for _ in range(self.config.max_pages):
            data = data_of(await self._json("/posts.json", (("before", str(before)),) if before else ()),
                           f"{self.name}: posts.json")
            posts = list_at(data, "latest_posts", f"{self.name}: posts.json")
            ids = [p["id"] for p in posts if isinstance(p, Mapping) and isinstance(p.get("id"), int)]
            for post in posts:
                if (isinstance(post, Mapping) and isinstance(post.get("id"), int) and mark is not None
                        and post["id"] <= mark):
                    continue
                self._take(post, mentions, replies)
            if ids:
                newest = max(ids + ([newest] if newest is not None else []))
            if mark is None or not ids or min(ids) <= mark + 1:
                break
            before = min(ids)
        marks["latest"] = newest if newest is not None else 0  # an empty forum: every later post is new

    async def _search(self, term: str, marks: dict[str, int], mentions: dict[str, Mention],
                      replies: dict[str, Reply]) -> None:
        key = f"search:{term}"
        mark, newest = marks.get(key), marks.get(key)
        for page in range(1, min(self.config.max_pages, SEARCH_PAGE_LIMIT) + 1):
            data = data_of(await self._json("/search.json", (("q", f"{term} order:latest"), ("page", str(page)))),
                           f"{self.name}: search.json")
            posts = list_at(data, "posts", f"{self.name}: search.json", optional=True)
            topics = {t.get("id"): t for t in list_at(data, "topics", f"{self.name}: search.json", optional=True)
                      if isinstance(t, Mapping)}
            ids = [p["id"] for p in posts if isinstance(p, Mapping) and isinstance(p.get("id"), int)]
            for post in posts:
                if not isinstance(post, Mapping) or (
                        mark is not None and isinstance(post.get("id"), int) and post["id"] <= mark):
                    continue
                topic = topics.get(post.get("topic_id")) or {}
                titled = {**post, "topic_title": topic.get("title"), "topic_slug": topic.get("slug")}
                self._take(titled, mentions, replies)
            if ids:
                newest = max(ids + ([newest] if newest is not None else []))
            if mark is None or not ids or min(ids) <= mark or not _more_results(data):
                break
        # Nothing found at the first poll: everything found later is new (post ids start at 1).
        marks[key] = newest if newest is not None else 0

    def _take(self, post: Any, mentions: dict[str, Mention], replies: dict[str, Reply]) -> None:
        if not isinstance(post, Mapping):
            self.skip(post, "post is not an object")
            return
        try:
            if self.own(text_id(post.get("username"))):
                if isinstance(post.get("post_number"), int) and post["post_number"] > 1:
                    reply = to_reply(post, base_url=self.config.base_url, source=self.name)
                    replies[reply.external_id] = reply
                return
            title = text_id(post.get("topic_title"))
            text = _text(post, title)
            mention = to_mention(post, base_url=self.config.base_url, source=self.name, brands=self.attribute(text))
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self.skip(post, why_skipped(err))
            return
        mentions[mention.external_id] = mention

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Read each open mention's topic for a brand post after it (a direct reply wins)."""
        by_topic: dict[str, list[Mention]] = {}
        for mention in to:
            by_topic.setdefault(mention.conversation_id or mention.external_id.split("/")[0], []).append(mention)
        found: list[Reply] = []
        for topic, waiting in list(by_topic.items())[: self.config.thread_checks]:
            posts = await self._topic_posts(topic)
            if posts is None:
                continue
            for mention in waiting:
                reply = self._answer(mention, posts)
                if reply is not None:
                    found.append(reply)
        return found

    async def _topic_posts(self, topic: str) -> list[Mapping[str, Any]] | None:
        """Every post of a topic: the inlined chunk, then the rest of `stream` by id (20 a call)."""
        resp = await self._json(f"/t/{quote(topic, safe='')}.json", ok=frozenset({403, 404}))
        if resp.status in (403, 404):  # deleted, or now private: nothing to learn
            return None
        stream_data = data_of(resp, f"{self.name}: topic").get("post_stream")
        if not isinstance(stream_data, Mapping):
            raise MalformedResponseError(f"{self.name}: topic {topic} has no post_stream")
        posts = [p for p in list_at(stream_data, "posts", f"{self.name}: topic") if isinstance(p, Mapping)]
        have = {p.get("id") for p in posts}
        missing = [i for i in stream_data.get("stream") or () if i not in have]
        for start in range(0, min(len(missing), 20 * self.config.max_pages), 20):
            chunk = missing[start:start + 20]
            more = await self._json(f"/t/{quote(topic, safe='')}/posts.json", [("post_ids[]", str(i)) for i in chunk])
            extra = data_of(more, f"{self.name}: topic posts").get("post_stream")
            posts += [p for p in (extra or {}).get("posts") or () if isinstance(p, Mapping)]
        for post in posts:
            post.setdefault("topic_id", int(topic) if topic.isdigit() else topic)  # type: ignore[attr-defined]
        return posts

    def _answer(self, mention: Mention, posts: list[Mapping[str, Any]]) -> Reply | None:
        """Brand posts after the mention's post number; one that replies to it directly wins."""
        number = int(mention.external_id.split("/")[-1]) if mention.external_id.split("/")[-1].isdigit() else 0
        best: tuple[bool, datetime, Reply] | None = None
        for post in posts:
            if not self.own(text_id(post.get("username"))):
                continue
            if not isinstance(post.get("post_number"), int) or post["post_number"] <= number:
                continue
            try:
                reply = to_reply(post, base_url=self.config.base_url, source=self.name, in_reply_to=mention.external_id)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self.skip(post, why_skipped(err))
                continue
            key = (post.get("reply_to_post_number") != number, reply.created_at, reply)
            if best is None or key[:2] < best[:2]:
                best = key
        return best[2] if best else None
