"""Facebook Page (Graph API): visitor posts, comments on the Page's posts, recommendations, the Page's answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, field_validator

from config.types import Duration
from connectors._cursor import dump_cursor, load_cursor
from connectors._messenger import poll_conversations
from connectors._meta import (
    BAD_ITEM,
    DEPRECATED_CODE,
    GONE_CODE,
    GraphConnectorBase,
    GraphSourceError,
    MetaConfig,
    why,
)
from connectors._parse import MalformedItemError, mapping_of, optional_time, required_id, required_time, text_id
from connectors._reviews import review_mention
from connectors._watermark import Watermark, dump_marks, load_marks
from listener.domain import Cursor, Mention, Page, Reply

logger = logging.getLogger(__name__)

POST_FIELDS = "id,message,story,created_time,updated_time,from{id,name},permalink_url"
COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},permalink_url"
RATING_FIELDS = "created_time,recommendation_type,review_text,reviewer{id,name},open_graph_story{id},rating,has_review"


class FacebookConfig(MetaConfig):
    """[connectors.<name>] with type = "facebook"."""

    required_when_enabled: ClassVar[dict[str, str]] = {"access_token": "a Page access token", "page_id": ""}

    type: str = "facebook"
    page_id: str = Field(default="", description="The Page's numeric id (also how its own answers are recognised).")
    feed: bool = Field(default=True, description="Read /{page}/feed: visitor posts become mentions.")
    comments: bool = Field(default=True, description="Read comments on the newest posts of the feed.")
    comment_posts: int = Field(default=25, ge=1, le=100, description="Newest posts whose comments are read per poll.")
    full_sweep: Duration = Field(
        default=timedelta(hours=1), description="Read comments of all `comment_posts` posts at least this often."
    )
    messages: bool = Field(default=False, description="Poll Messenger conversations (pages_messaging).")
    ratings: bool = Field(default=False, description="Read /{page}/ratings (recommendations).")
    ratings_api_version: str = Field(
        default="v21.0", description="Graph version for /ratings (Meta removed recommendations in v22.0)."
    )

    @field_validator("page_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        if value and not value.strip().isdigit():
            raise ValueError("must be the Page's numeric id (Page settings > About > Page ID)")
        return value.strip()



def author_of(item: Mapping[str, Any], what: str) -> tuple[str, str]:
    """(`from.id`, `from.name`) of a post or comment; `from` is only sent to a Page token."""
    sender = mapping_of(item.get("from"))
    ident = text_id(sender.get("id"))
    if not ident:
        raise MalformedItemError(f"{what} has no from.id (is the token a Page token with pages_read_user_content?)")
    return ident, str(sender.get("name") or "")


def parent_of(comment: Mapping[str, Any]) -> str | None:
    """`parent.id` of a reply to a comment; None for a top-level comment."""
    parent = comment.get("parent")
    return text_id(parent.get("id")) if isinstance(parent, Mapping) else None


def text_of_post(item: Mapping[str, Any]) -> str:
    """A post's or comment's words (`message`, else the generated `story`)."""
    return str(item.get("message") or item.get("story") or "")


class FacebookConnector(GraphConnectorBase[FacebookConfig]):
    """Polls a Page's feed, comments and (optionally) recommendations; see docs/sources-social.md."""

    type_name: ClassVar[str] = "facebook"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "visitor posts", "comments and replies on the Page's posts", "the Page's own replies",
        "recommendations (Graph v21.0 and older)", "Messenger messages and the Page's answers (webhook, or polling "
        "with `messages`)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "posts elsewhere that name the brand (no public search)", "comments on posts beyond `comment_posts` "
        "(webhook only)", "recommendations on v22.0+", "Messenger customers' names in webhooks",
    )

    webhook_object: ClassVar[str] = "page"

    @property
    def webhook_id(self) -> str:
        """The Page id (`entry[].id` of Page feed and Messenger webhooks)."""
        return self.config.page_id

    def _is_page(self, ident: str, name: str = "") -> bool:
        return self.is_brand(ident, name)

    async def poll(self, since: Cursor | None) -> Page:
        """Read the feed down to its mark, then comments of the newest posts, then recommendations."""
        if self.paused():
            return Page([], since)
        state = load_cursor(since, source=self.name)
        marks = load_marks(state, ("feed", "comments", "ratings", "messages"))
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        posts: list[tuple[str, datetime]] = []
        if self.config.feed or self.config.comments:
            posts = await self._feed(marks["feed"], mentions)
        swept, full = optional_time(state.get("swept")), optional_time(state.get("full"))
        if self.config.comments and self.paused_until is None:
            started = self.clock.now()
            # Now and then every recent post is read, whether or not its updated_time moved.
            whole = full is None or started - full >= self.config.full_sweep
            if await self._comments(posts, None if whole else swept, marks["comments"], mentions, replies):
                swept, full = started, started if whole else full
        if self.config.ratings and self.paused_until is None:
            await self._ratings(marks["ratings"], mentions)
        if self.config.messages and self.paused_until is None:
            await poll_conversations(self, marks["messages"], mentions, replies)
        cursor = dump_cursor({"v": 1, "streams": dump_marks(marks),
                              "swept": swept.isoformat() if swept else None,
                              "full": full.isoformat() if full else None})
        return Page(mentions=list(mentions.values()), cursor=cursor, replies=list(replies.values()))

    async def _feed(self, mark: Watermark, mentions: dict[str, Mention]) -> list[tuple[str, datetime]]:
        """Visitor posts become mentions; returns (post id, last activity) of the posts read."""
        overlap, first_run = self.config.overlap, mark.fresh
        params = [("fields", POST_FIELDS), ("limit", str(self.config.limit))]
        posts: list[tuple[str, datetime]] = []
        taken: list[tuple[str, datetime]] = []
        try:
            async for items in self.pages(f"/{self.config.page_id}/feed", params):
                times = [t for t in (self._feed_item(item, mark, mentions, taken, posts) for item in items) if t]
                known = first_run or (times and mark.reached(min(times), overlap))
                # Comments are read on the newest `comment_posts` posts, so the listing goes on until it has them.
                if known and (not self.config.comments or len(posts) >= self.config.comment_posts):
                    break
        finally:
            mark.advance(taken, overlap, started=self.clock.now())
        return posts

    def _feed_item(self, item: Any, mark: Watermark, mentions: dict[str, Mention], taken: list[tuple[str, datetime]],
                   posts: list[tuple[str, datetime]]) -> datetime | None:
        """Note one feed post for the comment sweep; a visitor's becomes a Mention. Returns its time."""
        try:
            if not isinstance(item, Mapping):
                raise MalformedItemError("post is not an object")
            ident = required_id(item, "id", "post")
            created = required_time(item.get("created_time"), "created_time")
            active = required_time(item.get("updated_time") or item.get("created_time"), "updated_time")
            posts.append((ident, active))
            if not self.config.feed or not mark.is_new(ident, created, self.config.overlap):
                return created
            author, name = author_of(item, "post")
            if not self._is_page(author, name):  # the Page's own announcement: its comments are read later
                mentions[ident] = self._mention(item, ident, created, author, name, None, ident)
                taken.append((ident, created))
            return created
        except BAD_ITEM as err:
            self.skip(item, why(err))
            return None

    async def _comments(self, posts: list[tuple[str, datetime]], swept: datetime | None, mark: Watermark,
                        mentions: dict[str, Mention], replies: dict[str, Reply]) -> bool:
        """Comments (and replies to comments) on the newest posts active since the last sweep; True when complete."""
        overlap, first_run = self.config.overlap, mark.fresh
        floor = swept - overlap if swept else None
        recent = sorted(posts, key=lambda p: p[1], reverse=True)[: self.config.comment_posts]
        params = [("fields", COMMENT_FIELDS), ("filter", "stream"), ("order", "reverse_chronological"),
                  ("limit", str(self.config.limit))]
        taken: list[tuple[str, datetime]] = []
        try:
            for post_id, active in recent:
                if floor is not None and active < floor:
                    continue  # no comment since the mark (a new comment moves updated_time)
                try:
                    async for items in self.pages(f"/{post_id}/comments", params, max_pages=1 if first_run else None):
                        times = [t for t in (self._comment(c, post_id, mark, mentions, replies, taken) for c in items)
                                 if t]
                        if times and mark.reached(min(times), overlap):
                            break
                except GraphSourceError as err:
                    if err.error.code != GONE_CODE:
                        raise
                    logger.info("%s: post %s is gone (%s); skipped", self.name, post_id, err.error.message)
                if self.paused_until is not None:
                    return False
        finally:
            mark.advance(taken, overlap, started=self.clock.now())
        return True

    def _comment(self, comment: Any, post_id: str, mark: Watermark, mentions: dict[str, Mention],
                 replies: dict[str, Reply], taken: list[tuple[str, datetime]]) -> datetime | None:
        """Take one comment: the Page's becomes a Reply, a customer's a Mention. Returns its time."""
        try:
            if not isinstance(comment, Mapping):
                raise MalformedItemError("comment is not an object")
            ident = required_id(comment, "id", "comment")
            created = required_time(comment.get("created_time"), "created_time")
            author, name = author_of(comment, "comment")
            parent = parent_of(comment)
            if self._is_page(author, name):
                reply = self._reply(comment, ident, created, name, parent or post_id)
                replies[reply.external_id] = reply
                return created
            if mark.is_new(ident, created, self.config.overlap):
                mentions[ident] = self._mention(comment, ident, created, author, name, parent, parent or ident)
                taken.append((ident, created))
            return created
        except BAD_ITEM as err:
            self.skip(comment, why(err))
            return None

    def _mention(self, item: Mapping[str, Any], ident: str, created: datetime, author: str, name: str,
                 parent: str | None, conversation: str) -> Mention:
        text = text_of_post(item)
        return Mention(
            source=self.name, external_id=ident, text=text, author=name or author, author_name=name,
            created_at=created, url=str(item.get("permalink_url") or f"https://www.facebook.com/{ident}"),
            in_reply_to=parent, conversation_id=conversation, brands=self.attribute(text),
            raw={**item, "channel": "public_mention"},
        )

    def _reply(self, item: Mapping[str, Any], ident: str, created: datetime, name: str, answers: str) -> Reply:
        return Reply(source=self.name, external_id=ident, in_reply_to=answers, author=name or self.config.page_id,
                     created_at=created, url=str(item.get("permalink_url") or ""), text=text_of_post(item))

    async def _ratings(self, mark: Watermark, mentions: dict[str, Mention]) -> None:
        """Recommendations newest first; a version without them (code 12) is logged once and left alone."""
        overlap, first_run = self.config.overlap, mark.fresh
        params = [("fields", RATING_FIELDS), ("limit", str(self.config.limit))]
        taken: list[tuple[str, datetime]] = []
        brand = next(iter((*self.config.attribute_to, *(b.name for b in self.brands[:1]))), "")
        try:
            async for items in self.pages(f"/{self.config.page_id}/ratings", params,
                                          version=self.config.ratings_api_version):
                times = []
                for item in items:
                    try:
                        mention = self._rating(item, brand)
                    except BAD_ITEM as err:
                        self.skip(item, why(err), "created_time")
                        continue
                    times.append(mention.created_at)
                    if mark.is_new(mention.external_id, mention.created_at, overlap):
                        mentions[mention.external_id] = mention
                        taken.append((mention.external_id, mention.created_at))
                if first_run or (times and mark.reached(min(times), overlap)):
                    break
        except GraphSourceError as err:
            if err.error.code != DEPRECATED_CODE:
                raise
            logger.warning("%s: recommendations are not served by Graph %s (%s); turn `ratings` off",
                           self.name, self.config.ratings_api_version, err.error.message)
        finally:
            mark.advance(taken, overlap, started=self.clock.now())

    def _rating(self, item: Any, brand: str) -> Mention:
        if not isinstance(item, Mapping):
            raise MalformedItemError("recommendation is not an object")
        created = required_time(item.get("created_time"), "created_time")
        story = item.get("open_graph_story")
        ident = text_id(story.get("id")) if isinstance(story, Mapping) else None
        reviewer = mapping_of(item.get("reviewer"))
        reviewer_id = text_id(reviewer.get("id"))
        if not ident and not reviewer_id:
            raise MalformedItemError("recommendation has neither open_graph_story.id nor reviewer.id")
        ident = ident or f"rating:{reviewer_id}:{int(created.timestamp())}"
        rating = item.get("rating")
        mention = review_mention(
            source=self.name, external_id=ident, text=str(item.get("review_text") or ""),
            author=str(reviewer.get("name") or reviewer_id or "facebook user"), created_at=created,
            rating=rating if isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5 else None,
            brand=brand, raw=item, url=f"https://www.facebook.com/{ident}",
        )
        return mention

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """For open mentions, read their thread's comments and report the Page's first answer after each."""
        found: list[Reply] = []
        threads: dict[str, list[Mention]] = {}
        for mention in list(to)[: self.config.reply_checks]:
            if (mention.raw or {}).get("channel") == "direct_message":
                continue  # Messenger answers arrive as webhook echoes only
            threads.setdefault(mention.conversation_id or mention.external_id, []).append(mention)
        params = [("fields", COMMENT_FIELDS), ("filter", "stream"), ("order", "chronological"),
                  ("limit", str(self.config.limit))]
        for thread, waiting in threads.items():
            if self.paused():
                break
            answers: list[Reply] = []
            async for items in self.pages(f"/{thread}/comments", params):
                for comment in items:
                    try:
                        ident = required_id(comment, "id", "comment")
                        author, name = author_of(comment, "comment")
                        if self._is_page(author, name):
                            created = required_time(comment.get("created_time"), "created_time")
                            answers.append(self._reply(comment, ident, created, name, parent_of(comment) or thread))
                    except BAD_ITEM as err:
                        self.skip(comment, why(err))
            for mention in waiting:
                later = [a for a in answers if a.created_at > mention.created_at]
                if later:
                    first = min(later, key=lambda a: a.created_at)
                    found.append(Reply(source=self.name, external_id=first.external_id,
                                       in_reply_to=mention.external_id, author=first.author,
                                       created_at=first.created_at, url=first.url, text=first.text))
        return found
