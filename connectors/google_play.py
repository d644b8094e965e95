"""Google Play: reviews of one app (androidpublisher v3 reviews.list) and the developer's replies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from pydantic import Field, field_validator

from config.types import Duration
from connectors._google import GoogleReviewConfig, GoogleTokens, google_get
from connectors._http import MalformedResponseError, Response
from connectors._parse import MalformedItemError, optional_text, required_time, text_id, why_skipped
from connectors._reviews import (
    Item,
    ReviewConnectorBase,
    answers_current_version,
    join_title,
    rating_of,
    review_mention,
    review_reply,
)
from listener.domain import Cursor, Mention, Page, Reply

SCOPE = "https://www.googleapis.com/auth/androidpublisher"


class GooglePlayConfig(GoogleReviewConfig):
    """[connectors.<name>] with type = "google_play"."""

    type: str = "google_play"
    package_name: str = Field(description="The app's package name, e.g. com.acme.app.")
    base_url: str = Field(default="https://www.googleapis.com", description="API root (a proxy or a local fake).")
    max_results: int = Field(default=100, ge=1, le=100, description="Reviews per page (the API allows 100).")
    translation_language: str | None = Field(default=None, description="Ask Google to translate reviews, e.g. 'en'.")
    # 200 GET calls per hour per app: polls, pages and reply checks all count.
    poll_interval: Duration = Field(
        default=timedelta(minutes=15), description="Time between polls (mind the 200 GET/hour quota)."
    )
    reply_checks: int = Field(default=10, ge=0, le=200, description="Open complaints re-checked per poll (1 GET each).")


    @field_validator("package_name")
    @classmethod
    def _package(cls, value: str) -> str:
        if not value.strip() or "/" in value:
            raise ValueError("must be an Android package name such as com.acme.app")
        return value.strip()


def _comment(raw: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for entry in raw.get("comments") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get(kind), Mapping):
            return entry[kind]
    return None


def review_id(raw: Mapping[str, Any]) -> str:
    """The review's id; MalformedItemError when absent."""
    ident = text_id(raw.get("reviewId"))
    if ident is None:
        raise MalformedItemError("review has no reviewId")
    return ident


def review_url(package: str, ident: str) -> str:
    """Link to the review on the Play Store."""
    return "https://play.google.com/store/apps/details?" + urlencode({"id": package, "reviewId": ident})


def review_text(comment: Mapping[str, Any]) -> str:
    """The review's text: Google joins title and body with a TAB; we use a blank line."""
    title, sep, body = optional_text(comment.get("text")).partition("\t")
    return join_title(title, body) if sep else title.strip()


def to_mention(raw: Mapping[str, Any], *, source: str, brand: str, package: str) -> Mention:
    """Map a Play Review to a Mention; MalformedItemError when it lacks id, userComment or time.

    Play gives only the user comment's `lastModified`: it is the mention time at first sight and
    `edited_at` always, so a later edit re-judges the text (and reopens an answered clock).
    """
    ident = review_id(raw)
    comment = _comment(raw, "userComment")
    if comment is None:
        raise MalformedItemError("review has no userComment")
    modified = required_time(comment.get("lastModified"), "userComment.lastModified")
    author = optional_text(raw.get("authorName")).strip()
    return review_mention(
        source=source,
        external_id=ident,
        text=review_text(comment),
        author=author or "Google Play user",
        author_name=author,
        created_at=modified,
        edited_at=modified,
        rating=rating_of(comment.get("starRating")),
        brand=brand,
        url=review_url(package, ident),
        lang=optional_text(comment.get("reviewerLanguage")) or None,
        raw=raw,
    )


def to_reply(raw: Mapping[str, Any], *, source: str, brand: str, package: str) -> Reply | None:
    """The developer's reply to the review's current version, or None (no reply, or the user edited since)."""
    developer = _comment(raw, "developerComment")
    if developer is None:
        return None
    ident = review_id(raw)
    at = required_time(developer.get("lastModified"), "developerComment.lastModified")
    user = _comment(raw, "userComment")
    edited = required_time(user.get("lastModified"), "userComment.lastModified") if user else None
    if not answers_current_version(at, edited):
        return None  # the user edited after the reply: the new version is unanswered
    return review_reply(source=source, review_id=ident, brand=brand, at=at,
                        text=optional_text(developer.get("text")), url=review_url(package, ident))


def _until_next_hour(now: datetime) -> float:
    # The GET quota is per hour; Google does not say when a window starts, so try again at the hour.
    return max(60.0, 3600.0 - now.timestamp() % 3600.0)


class GooglePlayConnector(ReviewConnectorBase[GooglePlayConfig]):
    """Polls the reviews of one Play app; see docs/sources-reviews.md."""

    type_name: ClassVar[str] = "google_play"
    can_see_replies: ClassVar[bool] = True
    max_lookback: ClassVar[timedelta | None] = timedelta(days=7)  # reviews.list: last week only
    shows: ClassVar[tuple[str, ...]] = (
        "reviews with text, with rating, device and app version", "the developer's reply", "edits (lastModified)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "reviews not created or changed in the last 7 days", "ratings without text", "non-production tracks",
        "the reviewer, sometimes (no authorName)",
    )

    def setup(self) -> None:
        """The OAuth2 token helper and the app's reviews URL."""
        self.tokens = GoogleTokens(self.config, SCOPE, self.session, self.clock.now)
        self.reviews_url = (
            f"{self.config.base_url}/androidpublisher/v3/applications/"
            f"{quote(self.config.package_name, safe='')}/reviews"
        )
        self.stream = f"app:{self.config.package_name}"

    async def _get(
        self, url: str, params: Mapping[str, Any] | None = None, *, ok: frozenset[int] = frozenset()
    ) -> Response:
        return await google_get(
            self.session, url, self.tokens, params=params, timeout=self.config.timeout.total_seconds(),
            now=self.clock.now, quota_wait=_until_next_hour, ok_statuses=ok,
        )

    def _params(self, token: str | None) -> dict[str, str]:
        params = {"maxResults": str(self.config.max_results)}
        if token:
            params["token"] = token
        if self.config.translation_language:
            params["translationLanguage"] = self.config.translation_language
        return params

    async def poll(self, since: Cursor | None) -> Page:
        """Read reviews changed since the cursor, newest first (first run: the newest page only)."""
        return await self.read_streams(since, [(self.stream, self._fetch, self.name)], max_pages=self.config.max_pages)

    async def _fetch(self, token: str | None) -> tuple[list[Item], str | None]:
        """One page of reviews.list as items, and the next page's token."""
        resp = await self._get(self.reviews_url, self._params(token))
        reviews, next_token = self._page(resp)
        items = []
        for raw in reviews:
            try:
                mention = to_mention(raw, source=self.name, brand=self.brand, package=self.config.package_name)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(raw.get("reviewId"), why_skipped(err))
                continue
            try:
                reply = to_reply(raw, source=self.name, brand=self.brand, package=self.config.package_name)
            except Exception as err:  # noqa: BLE001 - the review itself is still worth keeping
                self._skip(mention.external_id, why_skipped(err))
                reply = None
            items.append(Item(mention.created_at, mention.external_id, mention, reply))
        return items, next_token

    def _page(self, resp: Response) -> tuple[list[Mapping[str, Any]], str | None]:
        """The reviews of one page and the next page's token; shape-checked."""
        data = resp.data
        if not isinstance(data, Mapping):
            raise MalformedResponseError(f"{self.name}: reviews.list returned {type(data).__name__}, not an object")
        reviews = data.get("reviews", [])  # an empty result has no "reviews" at all
        if not isinstance(reviews, list):
            raise MalformedResponseError(f"{self.name}: reviews.list 'reviews' is not a list")
        good = self.objects(reviews)
        paging = data.get("tokenPagination")
        token = paging.get("nextPageToken") if isinstance(paging, Mapping) else None
        return good, token if isinstance(token, str) and token else None

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Fetch each open review (`reviews.get`) and report the developer's reply to its current version."""
        found: list[Reply] = []
        for mention in list(to)[: self.config.reply_checks]:
            resp = await self._get(f"{self.reviews_url}/{quote(mention.external_id, safe='')}", ok=frozenset({404}))
            if resp.status == 404:  # older than a week, or deleted
                continue
            if not isinstance(resp.data, Mapping):
                raise MalformedResponseError(f"{self.name}: reviews.get returned {type(resp.data).__name__}")
            try:
                reply = to_reply(resp.data, source=self.name, brand=self.brand, package=self.config.package_name)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(mention.external_id, why_skipped(err))
                continue
            if reply is not None:
                found.append(reply)
        return found
