"""Trustpilot: reviews of one business unit and the company's replies (`companyReply`).

Trustpilot's API documentation could not be checked (apis.md §8d): the endpoint paths, the
`page`/`perPage` paging, the `next-page` link, the ordering parameter and the rate-limit signals
are taken from third-party clients and are UNCONFIRMED. The connector therefore follows a
`next-page` link when the answer has one and otherwise asks for the next page number while
pages come back full, and the ordering parameter is configurable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from connectors._http import MalformedResponseError, Response, query_param, request
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
    ReviewConfig,
    ReviewConnectorBase,
    join_title,
    rating_of,
    review_mention,
    review_reply,
)
from listener.domain import Cursor, Mention, Page, Reply
from listener.redact import register_secret


class TrustpilotConfig(ReviewConfig):
    """[connectors.<name>] with type = "trustpilot"."""

    type: str = "trustpilot"
    business_unit_id: str = Field(description="The business unit id (Trustpilot Business > Integrations).")
    api_key: SecretStr = Field(description="API key; put ${TRUSTPILOT_API_KEY} here.")
    access_token: SecretStr | None = Field(
        default=None, description="OAuth token for the private reviews endpoint (optional; public otherwise)."
    )
    base_url: str = Field(default="https://api.trustpilot.com", description="API root (a proxy or a local fake).")
    per_page: int = Field(default=100, ge=1, le=100, description="Reviews per page.")
    order_by: str = Field(default="createdat.desc", description="Ordering parameter value; \"\" sends none.")
    language: str | None = Field(default=None, description="Only reviews in this language (e.g. en), or all.")
    max_pages: int = Field(default=5, ge=1, le=100, description="Pages read per poll when catching up.")
    reply_checks: int = Field(default=20, ge=0, le=1000, description="Open complaints re-checked per poll for a reply.")


    @field_validator("business_unit_id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not value.strip() or "/" in value:
            raise ValueError("must be a business unit id such as 46d6a890000064000500e0c3")
        return value.strip()

    @field_validator("api_key")
    @classmethod
    def _key_set(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("enabled", True) and not value.get_secret_value().strip():
            raise ValueError("must not be empty (put ${TRUSTPILOT_API_KEY} here)")
        return value


def _reply_part(raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
    reply = raw.get("companyReply")
    return reply if isinstance(reply, Mapping) else None


def review_url(ident: str) -> str:
    """Link to the review on trustpilot.com."""
    return f"https://www.trustpilot.com/reviews/{quote(ident, safe='')}"


def edited_at(raw: Mapping[str, Any]) -> datetime | None:
    """When the consumer last edited: `updatedAt` after `createdAt` and after the company's first reply.

    Whether a company reply moves the review's `updatedAt` is UNCONFIRMED, so with a reply only a
    later `updatedAt` counts as the consumer's edit.
    """
    created = optional_time(raw.get("createdAt"))
    updated = optional_time(raw.get("updatedAt"))
    reply = _reply_part(raw)
    reply_at = optional_time(reply.get("createdAt")) if reply else None
    floor = max((t for t in (created, reply_at) if t is not None), default=None)
    if updated is None or floor is None or updated <= floor:
        return None
    return updated


def to_mention(raw: Mapping[str, Any], *, source: str, brand: str) -> Mention:
    """Map a Trustpilot review to a Mention; MalformedItemError without id or createdAt."""
    ident = text_id(raw.get("id"))
    if ident is None:
        raise MalformedItemError("review has no id")
    consumer = mapping_of(raw.get("consumer"))
    name = optional_text(consumer.get("displayName")).strip()
    return review_mention(
        source=source,
        external_id=ident,
        text=join_title(optional_text(raw.get("title")), optional_text(raw.get("text"))),
        author=name or "Trustpilot user",
        author_name=name,
        created_at=required_time(raw.get("createdAt"), "createdAt"),
        edited_at=edited_at(raw),
        rating=rating_of(raw.get("stars")),
        brand=brand,
        url=review_url(ident),
        lang=optional_text(raw.get("language")) or None,
        raw=raw,
    )


def to_reply(raw: Mapping[str, Any], *, source: str, brand: str) -> Reply | None:
    """The company's reply to the review's current version, or None.

    The reply time is its `createdAt`; after a consumer edit, a reply whose `updatedAt` is later
    than the edit answers the new version at that time, and an older one answers nothing.
    """
    reply = _reply_part(raw)
    if reply is None:
        return None
    ident = text_id(raw.get("id"))
    if ident is None:
        raise MalformedItemError("review has no id")
    at = required_time(reply.get("createdAt"), "companyReply.createdAt")
    edit = edited_at(raw)
    if edit is not None:
        updated = optional_time(reply.get("updatedAt"))
        if updated is None or updated < edit:
            return None
        at = updated
    return review_reply(source=source, review_id=ident, brand=brand, at=at,
                        text=optional_text(reply.get("text")), url=review_url(ident))


class TrustpilotConnector(ReviewConnectorBase[TrustpilotConfig]):
    """Polls one business unit's reviews; see docs/sources-reviews.md (much of this API is UNCONFIRMED)."""

    type_name: ClassVar[str] = "trustpilot"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "reviews of the business unit, with stars", "the company's reply",
        "edits while the review is among the newest pages",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "edits to reviews older than the pages a poll reads", "reviews removed by Trustpilot",
    )

    def setup(self) -> None:
        """API key and token headers, and the public or private reviews path."""
        self.stream = f"bu:{self.config.business_unit_id}"
        register_secret(self.config.api_key.get_secret_value())
        self._headers: dict[str, str] = {}
        unit = quote(self.config.business_unit_id, safe="")
        if self.config.access_token and self.config.access_token.get_secret_value().strip():
            register_secret(self.config.access_token.get_secret_value())
            self._headers["Authorization"] = f"Bearer {self.config.access_token.get_secret_value().strip()}"
            self.reviews_path = f"/v1/private/business-units/{unit}/reviews"
        else:
            self.reviews_path = f"/v1/business-units/{unit}/reviews"

    async def _get(self, path: str, params: dict[str, str], *, ok: frozenset[int] = frozenset()) -> Response:
        # The key goes in the query as documented; _http never logs query strings.
        return await request(
            self.session, "GET", self.config.base_url + path,
            params={"apikey": self.config.api_key.get_secret_value(), **params}, headers=self._headers,
            timeout=self.config.timeout.total_seconds(), now=self.clock.now, ok_statuses=ok,
        )

    async def poll(self, since: Cursor | None) -> Page:
        """Read reviews newer than the cursor, newest first, with the company's replies."""
        return await self.read_streams(since, [(self.stream, self._fetch, self.name)], max_pages=self.config.max_pages)

    async def _fetch(self, page_ref: str | None) -> tuple[list[Item], str | None]:
        """One page of reviews as items, and the next page's number (None on the last page)."""
        page = int(page_ref) if page_ref and page_ref.isdigit() else 1
        params = {"page": str(page), "perPage": str(self.config.per_page)}
        if self.config.order_by:
            params["orderBy"] = self.config.order_by
        if self.config.language:
            params["language"] = self.config.language
        data = (await self._get(self.reviews_path, params)).data
        reviews = data.get("reviews") if isinstance(data, Mapping) else None
        if not isinstance(reviews, list):
            raise MalformedResponseError(f"{self.name}: reviews answer has no reviews list")
        items = []
        for raw in self.objects(reviews):
            try:
                mention = to_mention(raw, source=self.name, brand=self.brand)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(raw.get("id"), why_skipped(err))
                continue
            try:
                reply = to_reply(raw, source=self.name, brand=self.brand)
            except Exception as err:  # noqa: BLE001 - the review itself is still worth keeping
                self._skip(mention.external_id, why_skipped(err))
                reply = None
            # An edit (or a company reply) moves `updatedAt`: keyed on it, the changed review is
            # new again and comes back with `edited_at`; the list itself is sorted by creation.
            changed = max(mention.created_at, optional_time(raw.get("updatedAt")) or mention.created_at)
            items.append(Item(changed, mention.external_id, mention, reply, listed=mention.created_at))
        return items, self._next_page(data, page, len(reviews))

    def _next_page(self, data: Mapping[str, Any], page: int, count: int) -> str | None:
        links = data.get("links")
        if isinstance(links, list):  # links[{rel: "next-page", href}] when the API sends them
            for link in links:
                if isinstance(link, Mapping) and link.get("rel") == "next-page" and isinstance(link.get("href"), str):
                    return query_param(link["href"], "page") or str(page + 1)
            return None
        return str(page + 1) if count >= self.config.per_page else None

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Fetch each open review (`GET /v1/reviews/{id}`, UNCONFIRMED) and report the company's reply."""
        found: list[Reply] = []
        for mention in list(to)[: self.config.reply_checks]:
            resp = await self._get(f"/v1/reviews/{quote(mention.external_id, safe='')}", {}, ok=frozenset({404}))
            if resp.status == 404:  # removed (by the consumer, or flagged and taken down)
                continue
            if not isinstance(resp.data, Mapping):
                raise MalformedResponseError(f"{self.name}: review answer is not an object")
            try:
                reply = to_reply(resp.data, source=self.name, brand=self.brand)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(mention.external_id, why_skipped(err))
                continue
            if reply is not None:
                found.append(reply)
        return found
