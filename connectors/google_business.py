"""Google Business Profile: reviews of the brand's own locations (v4 reviews.list) and the owner's reviewReply."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from pydantic import Field, field_validator

from connectors._google import GoogleReviewConfig, GoogleTokens, google_get
from connectors._http import MalformedResponseError, Response
from connectors._parse import (
    MalformedItemError,
    mapping_of,
    optional_text,
    optional_time,
    required_time,
    text_id,
    why_skipped,
)
from connectors._reviews import (
    Item,
    ReviewConnectorBase,
    answers_current_version,
    rating_of,
    review_mention,
    review_reply,
)
from listener.domain import Cursor, Mention, Page, Reply

SCOPE = "https://www.googleapis.com/auth/business.manage"
_LOCATION = re.compile(r"accounts/[^/\s]+/locations/[^/\s]+")
_REVIEW = re.compile(r"accounts/[^/\s]+/locations/[^/\s]+/reviews/[^/\s]+")


class GoogleBusinessConfig(GoogleReviewConfig):
    """[connectors.<name>] with type = "google_business"."""

    type: str = "google_business"
    locations: tuple[str, ...] = Field(
        min_length=1, description='Verified locations as "accounts/<account id>/locations/<location id>".'
    )
    base_url: str = Field(
        default="https://mybusiness.googleapis.com", description="API root (a proxy or a local fake)."
    )
    page_size: int = Field(default=50, ge=1, le=50, description="Reviews per page (the API allows 50).")
    include_rating_only: bool = Field(
        default=False, description="Also take reviews that have stars but no text (nothing to classify)."
    )


    @field_validator("locations")
    @classmethod
    def _location_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(v.strip().strip("/") for v in value)
        bad = [n for n in names if not _LOCATION.fullmatch(n)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not of the form accounts/<account id>/locations/<location id>")
        return tuple(dict.fromkeys(names))


def review_name(raw: Mapping[str, Any], location: str) -> str:
    """The review's resource name (`accounts/…/locations/…/reviews/…`), built from reviewId if needed."""
    name = text_id(raw.get("name"))
    if name and _REVIEW.fullmatch(name):
        return name
    ident = text_id(raw.get("reviewId"))
    if ident is None:
        raise MalformedItemError("review has neither a name nor a reviewId")
    return f"{location}/reviews/{ident}"


def _reply_part(raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
    reply = raw.get("reviewReply")
    return reply if isinstance(reply, Mapping) else None


def edited_at(raw: Mapping[str, Any]) -> datetime | None:
    """When the reviewer last edited, if they did: `updateTime` after `createTime` (and after any reply).

    Whether the owner's reply moves the review's `updateTime` is not documented, so with a reply
    only an `updateTime` later than the reply's counts as the customer's edit.
    """
    created = optional_time(raw.get("createTime"))
    updated = optional_time(raw.get("updateTime"))
    reply = _reply_part(raw)
    reply_at = optional_time(reply.get("updateTime")) if reply else None
    floor = max((t for t in (created, reply_at) if t is not None), default=None)
    if updated is None or floor is None or updated <= floor:
        return None
    return updated


def to_mention(raw: Mapping[str, Any], *, source: str, brand: str, location: str) -> Mention:
    """Map a Business Profile Review to a Mention; MalformedItemError without name/id or createTime."""
    name = review_name(raw, location)
    created = required_time(raw.get("createTime"), "createTime")
    reviewer = mapping_of(raw.get("reviewer"))
    anonymous = reviewer.get("isAnonymous") is True
    display = "" if anonymous else optional_text(reviewer.get("displayName")).strip()
    return review_mention(
        source=source,
        external_id=name,
        text=optional_text(raw.get("comment")).strip(),
        author=display or "Google user",
        author_name=display,
        created_at=created,
        edited_at=edited_at(raw),
        rating=rating_of(raw.get("starRating")),
        brand=brand,
        raw=raw,
    )


def to_reply(raw: Mapping[str, Any], *, source: str, brand: str, location: str) -> Reply | None:
    """The owner's reviewReply to the review's current version, or None."""
    reply = _reply_part(raw)
    if reply is None:
        return None
    at = required_time(reply.get("updateTime"), "reviewReply.updateTime")
    return review_reply(source=source, review_id=review_name(raw, location), brand=brand, at=at,
                        text=optional_text(reply.get("comment")))


def changed_at(raw: Mapping[str, Any]) -> datetime:
    """The list's sort key: `updateTime`, or `createTime` when absent."""
    return optional_time(raw.get("updateTime")) or required_time(raw.get("createTime"), "createTime")


def _one_minute(_: datetime) -> float:
    # Business Profile quotas are per minute (UNCONFIRMED for reviews); a minute is a safe pause.
    return 60.0


class GoogleBusinessConnector(ReviewConnectorBase[GoogleBusinessConfig]):
    """Polls the reviews of the brand's verified locations; see docs/sources-reviews.md."""

    type_name: ClassVar[str] = "google_business"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "reviews of the verified locations, with star rating", "the owner's reply", "edits (updateTime)",
        "star-only reviews with include_rating_only",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "unverified locations", "star-only reviews by default", "anonymous reviewers' names", "Q&A and messages",
    )

    def setup(self) -> None:
        """The OAuth2 token helper for the Business Profile scope."""
        self.tokens = GoogleTokens(self.config, SCOPE, self.session, self.clock.now)

    async def _get(
        self, path: str, params: Mapping[str, Any] | None = None, *, ok: frozenset[int] = frozenset()
    ) -> Response:
        return await google_get(
            self.session, f"{self.config.base_url}/v4/{path}", self.tokens, params=params,
            timeout=self.config.timeout.total_seconds(), now=self.clock.now, quota_wait=_one_minute, ok_statuses=ok,
        )

    async def poll(self, since: Cursor | None) -> Page:
        """Read each location's reviews changed since the cursor, newest change first."""
        streams = [(f"loc:{loc}", partial(self._fetch, loc), f"{self.name} {loc}") for loc in self.config.locations]
        return await self.read_streams(since, streams, max_pages=self.config.max_pages)

    async def _fetch(self, location: str, token: str | None) -> tuple[list[Item], str | None]:
        """One page of a location's reviews.list as items, and the next page's token."""
        params = {"pageSize": str(self.config.page_size), "orderBy": "updateTime desc"}
        if token:
            params["pageToken"] = token
        reviews, next_token = self._page(await self._get(f"{location}/reviews", params))
        items = []
        for raw in reviews:
            try:
                changed = changed_at(raw)
                mention = to_mention(raw, source=self.name, brand=self.brand, location=location)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(raw.get("name") or raw.get("reviewId"), why_skipped(err))
                continue
            try:
                reply = to_reply(raw, source=self.name, brand=self.brand, location=location)
            except Exception as err:  # noqa: BLE001 - the review itself is still worth keeping
                self._skip(mention.external_id, why_skipped(err))
                reply = None
            if reply is not None and not answers_current_version(reply.created_at, mention.edited_at):
                reply = None  # the customer edited after it: the new version is unanswered
            keep = bool(mention.text) or self.config.include_rating_only
            items.append(Item(changed, mention.external_id, mention if keep else None, reply))
        return items, next_token

    def _page(self, resp: Response) -> tuple[list[Mapping[str, Any]], str | None]:
        data = resp.data
        if not isinstance(data, Mapping):
            raise MalformedResponseError(f"{self.name}: reviews.list returned {type(data).__name__}, not an object")
        reviews = data.get("reviews", [])  # absent when the location has no reviews
        if not isinstance(reviews, list):
            raise MalformedResponseError(f"{self.name}: reviews.list 'reviews' is not a list")
        good = self.objects(reviews)
        token = data.get("nextPageToken")
        return good, token if isinstance(token, str) and token else None

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Fetch each open review (`reviews.get`) and report the owner's reply to its current version."""
        found: list[Reply] = []
        for mention in list(to)[: self.config.reply_checks]:
            if not _REVIEW.fullmatch(mention.external_id):
                self._log.debug("%s: %r is not a review name; skipped", self.name, mention.external_id)
                continue
            resp = await self._get(mention.external_id, ok=frozenset({404}))
            if resp.status == 404:  # deleted by the reviewer or removed by Google
                continue
            if not isinstance(resp.data, Mapping):
                raise MalformedResponseError(f"{self.name}: reviews.get returned {type(resp.data).__name__}")
            location = mention.external_id.rsplit("/reviews/", 1)[0]
            try:
                reply = to_reply(resp.data, source=self.name, brand=self.brand, location=location)
                edit = edited_at(resp.data)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(mention.external_id, why_skipped(err))
                continue
            if reply is not None and answers_current_version(reply.created_at, edit):
                found.append(reply)
        return found
