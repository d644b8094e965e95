"""Core value types shared by connectors, the store, the pipeline and the sinks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from listener.text import clean_text


class Sentiment(StrEnum):
    """Three-way sentiment label; the order matches the model's output columns."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


def require_utc(value: datetime, what: str = "timestamp") -> datetime:
    """Return `value` converted to UTC, refusing naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


Channel = Literal["public_mention", "review", "direct_message"]
CHANNELS: tuple[str, ...] = get_args(Channel)

_IDENTITY_FIELDS = ("external_id", "author", "author_name", "url", "in_reply_to", "conversation_id", "seen_as")


@dataclass(frozen=True, slots=True, kw_only=True)
class Mention:
    """One post, comment or review seen on a source.

    `source` is the connector instance name (the `[connectors.<name>]` table), so two
    Mastodon servers configured side by side never collide.
    """

    source: str
    external_id: str
    text: str
    author: str
    created_at: datetime
    url: str = ""
    author_name: str = ""
    author_followers: int | None = None
    lang: str | None = None
    in_reply_to: str | None = None
    conversation_id: str | None = None
    brands: tuple[str, ...] = ()
    # Id of the boost, retweet or cross-post through which this post was seen (reach counting).
    seen_as: str | None = None
    # When the author last edited it (reviews): an edit after the brand's reply reopens the clock.
    edited_at: datetime | None = None
    # Where the customer wrote (policies match on it; None: a public mention) and a review's stars.
    channel: Channel | None = None
    rating: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", require_utc(self.created_at, "created_at"))
        if self.edited_at is not None:
            object.__setattr__(self, "edited_at", require_utc(self.edited_at, "edited_at"))
        if self.channel is not None and self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {self.channel!r}")
        if self.rating is not None and (isinstance(self.rating, bool) or not isinstance(self.rating, int)):
            raise ValueError(f"rating must be a whole number, not {self.rating!r}")
        # Ids, authors and URLs come from untrusted payloads too (HTML feeds can carry lone
        # surrogates or NULs); SQLite and JSON reject those, so one bad field would sink a page.
        for name in _IDENTITY_FIELDS:
            value = getattr(self, name)
            if value:
                object.__setattr__(self, name, clean_text(value, limit=len(value)))

    @property
    def key(self) -> str:
        """Stable identity across polls: `<source>:<external_id>`."""
        return f"{self.source}:{self.external_id}"

    @property
    def sighting_key(self) -> str:
        """Identity of this particular sighting (a boost has its own)."""
        return f"{self.source}:{self.seen_as or self.external_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A reply by one of a brand's own accounts to a mention (stops its clock)."""

    source: str
    external_id: str
    in_reply_to: str
    author: str
    created_at: datetime
    url: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", require_utc(self.created_at, "created_at"))

    @property
    def mention_key(self) -> str:
        """Key of the mention this reply answers."""
        return f"{self.source}:{self.in_reply_to}"


Cursor = str


@dataclass(frozen=True, slots=True)
class Page:
    """What one poll returned: new mentions, replies seen, and the cursor to resume from."""

    mentions: list[Mention]
    cursor: Cursor | None
    replies: list[Reply] = field(default_factory=list)
