"""Shared parts of the review-site connectors: owner brand, watermark cursors, mentions and replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import aiohttp
from pydantic import Field, field_validator

from config.types import Duration
from connectors._cursor import dump_cursor, load_cursor
from connectors._watermark import Watermark
from connectors.base import BrandView, ConnectorBase, ConnectorConfig
from listener.clock import Clock
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import ConfigError, SourceAuthError, SourceError, TransientSourceError

logger = logging.getLogger(__name__)

# Google Business Profile writes star ratings as words.
_STAR_WORDS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
# A list empty at its first poll is read from this long before that poll on: a review written
# just before it may be listed a little late.
QUIET_START_SLACK = timedelta(minutes=10)


class ReviewConfig(ConnectorConfig):
    """Keys every review connector takes on top of the common ones."""

    brand: str = Field(
        description="The configured brand that owns this app, place or page: every review is about it, "
        "and its responses are the brand's replies."
    )
    timeout: Duration = Field(default=timedelta(seconds=30), description="Limit for one request, body included.")

    @field_validator("brand")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a brand from [brands]")
        return value.strip()


def owner_brand(source: str, config: ReviewConfig, brands: Sequence[BrandView]) -> str:
    """The configured brand named by `brand`; ConfigError naming the key when there is none."""
    names = [b.name for b in brands]
    if config.brand not in names:
        known = ", ".join(repr(n) for n in names) or "none configured"
        raise ConfigError([f"connectors.{source}.brand: no brand named {config.brand!r} (brands: {known})"])
    return config.brand


def rating_of(value: Any) -> int | None:
    """A star rating as an int 1-5 from an int, a numeric string ("4") or a word ("FOUR"); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and float(value).is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, str):
        number = _STAR_WORDS.get(value.strip().upper(), 0)
    else:
        return None
    return number if 1 <= number <= 5 else None


def join_title(title: str, body: str) -> str:
    """Title and body as one text, separated by a blank line (either may be empty)."""
    title, body = title.strip(), body.strip()
    return f"{title}\n\n{body}" if title and body else title or body


def review_mention(
    *,
    source: str,
    external_id: str,
    text: str,
    author: str,
    created_at: datetime,
    rating: int | None,
    brand: str,
    raw: Mapping[str, Any],
    url: str = "",
    author_name: str = "",
    lang: str | None = None,
    edited_at: datetime | None = None,
) -> Mention:
    """A review as a Mention: attributed to the listing's owner, on the review channel, with its rating."""
    extra = {"edited_at": edited_at.isoformat() if edited_at else None}
    return Mention(
        source=source,
        external_id=external_id,
        text=text,
        author=author,
        created_at=created_at,
        url=url,
        author_name=author_name,
        lang=lang or None,
        brands=(brand,),
        edited_at=edited_at,
        channel="review",
        rating=rating,
        raw={**raw, **extra},
    )


def review_reply(
    *, source: str, review_id: str, brand: str, at: datetime, text: str = "", url: str = ""
) -> Reply:
    """The owner's response to a review as a Reply.

    The id carries the response's own time, so a response rewritten after the customer edited
    the review is a new reply (the old one answered an earlier version).
    """
    return Reply(
        source=source,
        external_id=f"{review_id}:reply:{int(at.timestamp())}",
        in_reply_to=review_id,
        author=brand,
        created_at=at,
        url=url,
        text=text,
    )


def answers_current_version(reply_at: datetime, edited_at: datetime | None) -> bool:
    """Whether a response is not older than the review's last edit (else the edit is unanswered)."""
    return edited_at is None or reply_at >= edited_at


@dataclass
class StreamState:
    """One newest-first stream's position: everything down to `mark` has been read.

    While a catch-up is unfinished (the pages a poll may read ran out, or the rate limit did,
    before reaching `mark`), `resume` is where reading continues down on the next poll, and `top`
    the newest change seen; once the catch-up reaches `mark`, `top` becomes the new mark. So a
    burst bigger than one poll's pages is read over several polls instead of being skipped.
    """

    mark: Watermark = field(default_factory=Watermark)
    top: Watermark | None = None
    resume: str | None = None

    @classmethod
    def from_state(cls, value: Any) -> StreamState:
        """Read what `to_state` wrote (older plain watermarks are accepted too)."""
        if not isinstance(value, Mapping):
            return cls()
        resume = value.get("resume")
        top = Watermark.load(value.get("top")) if isinstance(value.get("top"), Mapping) else None
        if not isinstance(resume, str) or not resume or top is None or top.fresh:
            return cls(Watermark.load(value))
        return cls(Watermark.load(value), top, resume)

    def to_state(self) -> dict[str, Any]:
        """The JSON form stored in the cursor (the compact `ids` layout: review lists are read exactly)."""
        state = self.mark.dump_ids()
        if self.resume is not None and self.top is not None:
            state.update(top=self.top.dump_ids(), resume=self.resume)
        return state


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a page: its change time and id (for the watermark) and the mapped review.

    `listed` is the time the list is sorted by, when that is not the change time (Trustpilot
    sorts by creation, but an edit changes a review later): paging stops on it, while what is
    new is judged on `changed`.
    """

    changed: datetime
    ident: str
    mention: Mention | None  # None: counts for the position but is not a mention (e.g. stars only)
    reply: Reply | None = None
    listed: datetime | None = None


Fetch = Callable[[str | None], Awaitable[tuple[list[Item], str | None]]]


async def read_newest_first(
    fetch: Fetch,
    state: StreamState,
    *,
    max_pages: int,
    mentions: dict[str, Mention],
    replies: dict[str, Reply],
    started: datetime,
    stop: Callable[[], bool] = lambda: False,
    source: str = "",
) -> StreamState:
    """Read a newest-first list page by page down to the stream's mark; return the new state.

    `fetch(ref)` returns one page and the reference of the next (None: the last page); `ref` None
    asks for the newest page. New reviews go to `mentions`; every reply seen goes to `replies`
    (the store ignores repeats). The first run reads one page only: no backfill. A list still
    empty at its first poll (begun at `started`) is marked read up to a little before then, so
    the next poll pages down to that point instead of staying a first poll.
    """
    result = await _read_pages(fetch, state, max_pages=max_pages, mentions=mentions, replies=replies,
                               stop=stop, source=source)
    if result.mark.fresh:
        return StreamState(Watermark(started - QUIET_START_SLACK))
    return result


async def _read_pages(
    fetch: Fetch,
    state: StreamState,
    *,
    max_pages: int,
    mentions: dict[str, Mention],
    replies: dict[str, Reply],
    stop: Callable[[], bool],
    source: str,
) -> StreamState:
    floor = state.mark
    top = state.top if state.resume is not None and state.top is not None else floor.copy()
    ref = state.resume
    for _ in range(max_pages):
        try:
            items, next_ref = await fetch(ref)
        except SourceError as err:
            if ref is None or ref != state.resume or isinstance(err, TransientSourceError | SourceAuthError):
                raise
            # A saved page token can expire; start again from the top rather than stall forever.
            logger.warning("%s: could not resume an unfinished catch-up (%s); reviews changed between %s and %s "
                           "may be missing", source, err, floor.at, top.at)
            return StreamState(top)
        reached = False
        for item in items:
            reached = reached or floor.reached(item.listed or item.changed)
            if floor.is_new(item.ident, item.changed):
                top.advance([(item.ident, item.changed)])
                if item.mention is not None:
                    mentions[item.mention.external_id] = item.mention
            if item.reply is not None:
                replies[item.reply.external_id] = item.reply
        if floor.fresh or reached or next_ref is None:
            return StreamState(top)
        ref = next_ref
        if stop():
            break
    logger.info("%s: catching up; reading continues from the same place on the next poll", source)
    return StreamState(floor, top, ref)


def load_streams(cursor: Cursor | None, *, source: str, streams: Sequence[str]) -> dict[str, StreamState]:
    """Positions of the configured streams from a cursor (streams no longer configured are dropped)."""
    state = load_cursor(cursor, source=source)
    saved = state.get("streams")
    saved = saved if isinstance(saved, Mapping) else {}
    return {key: StreamState.from_state(saved.get(key)) for key in streams}


def dump_streams(streams: Mapping[str, StreamState]) -> Cursor:
    """The cursor for a set of stream positions (streams never read are left out)."""
    return dump_cursor({"v": 1, "streams": {k: s.to_state() for k, s in streams.items() if not s.mark.fresh}})


ReviewConfigT = TypeVar("ReviewConfigT", bound=ReviewConfig)


class ReviewConnectorBase(ConnectorBase[ReviewConfigT]):
    """Owner brand and malformed-review accounting shared by the review connectors."""

    max_lookback: ClassVar[timedelta | None] = None

    def __init__(
        self,
        name: str,
        config: ReviewConfigT,
        brands: Sequence[BrandView],
        session: aiohttp.ClientSession,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.brand = owner_brand(name, config, brands)
        self._log = logging.getLogger(type(self).__module__)
        super().__init__(name, config, brands, session, clock=clock)

    async def read_streams(
        self, since: Cursor | None, streams: Sequence[tuple[str, Fetch, str]], *, max_pages: int,
        stop: Callable[[], bool] = lambda: False,
    ) -> Page:
        """Read each `(key, fetch, log label)` stream newest-first down to its mark, as one Page.

        `stop()` ends the reading early (a request budget used up): within a stream after a page,
        and before the next stream; what was not read waits for a later poll.
        """
        states = load_streams(since, source=self.name, streams=[key for key, _, _ in streams])
        mentions: dict[str, Mention] = {}
        replies: dict[str, Reply] = {}
        for key, fetch, label in streams:
            states[key] = await read_newest_first(
                fetch, states[key], max_pages=max_pages, started=self.clock.now(), mentions=mentions,
                replies=replies, stop=stop, source=label,
            )
            if stop():
                break
        return Page(mentions=list(mentions.values()), cursor=dump_streams(states), replies=list(replies.values()))

    def objects(self, reviews: Sequence[Any]) -> list[Mapping[str, Any]]:
        """The JSON objects of a list of reviews; anything else is skipped (and counted) as malformed."""
        found: list[Mapping[str, Any]] = []
        for raw in reviews:
            if isinstance(raw, Mapping):
                found.append(raw)
            else:
                self._skip(None, f"review is a {type(raw).__name__}, not an object")
        return found

    def _skip(self, ident: Any, why: str) -> None:
        """Log and count a review we cannot use; the run continues."""
        self.malformed += 1
        self._log.warning("%s: skipping malformed review %r: %s", self.name, ident, why)
