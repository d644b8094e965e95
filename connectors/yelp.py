"""Yelp Fusion: the review excerpts Yelp shares for a business (at most three; owner replies are never shown)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from config.types import Duration
from connectors._http import MalformedResponseError, RateLimitHeaders, Response, describe, parse_retry_after, request
from connectors._parse import (
    MalformedItemError,
    mapping_of,
    optional_text,
    required_time,
    text_id,
    why_skipped,
)
from connectors._reviews import (
    Item,
    ReviewConfig,
    ReviewConnectorBase,
    rating_of,
    review_mention,
)
from connectors.timeutil import zone
from listener.domain import Cursor, Mention, Page, Reply
from listener.errors import SourceAuthError, TransientSourceError
from listener.redact import register_secret

# RateLimit-ResetTime names the instant (ISO-8601 with offset) the daily budget renews.
YELP_RATE_LIMIT = RateLimitHeaders(remaining="RateLimit-Remaining", reset="RateLimit-ResetTime")
QPS_WAIT = 1.0  # a per-second limit frees up within a second


class YelpConfig(ReviewConfig):
    """[connectors.<name>] with type = "yelp"."""

    type: str = "yelp"
    businesses: tuple[str, ...] = Field(min_length=1, description="Yelp business ids or aliases (e.g. acme-coffee-sf).")
    api_key: SecretStr = Field(description="Fusion API key; put ${YELP_API_KEY} here.")
    base_url: str = Field(default="https://api.yelp.com", description="API root (a proxy or a local fake).")
    locale: str | None = Field(default=None, description="Review locale, e.g. en_US (Yelp's default when unset).")
    sort_by: str = Field(default="newest", description="sort_by value; \"\" sends none (Yelp's own order).")
    timezone: str = Field(
        default="America/Los_Angeles", description="IANA zone of time_created, which Yelp writes without one."
    )
    # Three excerpts per business and a small daily budget: polling often gains nothing.
    poll_interval: Duration = Field(
        default=timedelta(hours=1), description="Time between polls (mind the daily call budget)."
    )


    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)  # raises ValueError with a clear message
        return value

    @field_validator("businesses")
    @classmethod
    def _ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        ids = tuple(v.strip() for v in value)
        if any(not i or "/" in i for i in ids):
            raise ValueError("each business must be a Yelp business id or alias such as acme-coffee-sf")
        return tuple(dict.fromkeys(ids))

    @field_validator("api_key")
    @classmethod
    def _key_set(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("enabled", True) and not value.get_secret_value().strip():
            raise ValueError("must not be empty (put ${YELP_API_KEY} here)")
        return value


def to_mention(raw: Mapping[str, Any], *, source: str, brand: str, business: str, tz: str) -> Mention:
    """Map a Yelp review excerpt to a Mention; MalformedItemError without id or time_created."""
    ident = text_id(raw.get("id"))
    if ident is None:
        raise MalformedItemError("review has no id")
    user = mapping_of(raw.get("user"))
    name = optional_text(user.get("name")).strip()
    return review_mention(
        source=source,
        external_id=ident,
        text=optional_text(raw.get("text")).strip(),  # an excerpt: Yelp never gives the whole review
        author=name or "Yelp user",
        author_name=name,
        created_at=required_time(raw.get("time_created"), "time_created", tz=tz),
        rating=rating_of(raw.get("rating")),
        brand=brand,
        url=optional_text(raw.get("url")),
        raw={**raw, "business": business, "excerpt": True},
    )


def _error_code(body: bytes) -> str:
    """`error.code` of a Yelp error body (`{"error": {"code", "description"}}`), or ""."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    error = data.get("error") if isinstance(data, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    return code if isinstance(code, str) else ""


def _next_utc_midnight(now: datetime) -> float:
    # The daily budget renews at midnight UTC when no RateLimit-ResetTime says otherwise.
    midnight = (now.astimezone(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class YelpConnector(ReviewConnectorBase[YelpConfig]):
    """Polls Yelp's review excerpts for the brand's businesses; it cannot see owner replies."""

    type_name: ClassVar[str] = "yelp"
    can_see_replies: ClassVar[bool] = False
    shows: ClassVar[tuple[str, ...]] = (
        "the 3 newest review excerpts per business, with rating",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "the owner's replies (use `listener ack`)", "more than 3 reviews per poll (no paging)",
        "the full review text", "edits and deletions",
    )

    def setup(self) -> None:
        """The bearer header for the Fusion API."""
        register_secret(self.config.api_key.get_secret_value())
        self._headers = {"Authorization": f"Bearer {self.config.api_key.get_secret_value().strip()}"}
        self._spent = False  # the daily budget ran out during this poll

    async def _get(self, business: str) -> Response:
        url = f"{self.config.base_url}/v3/businesses/{quote(business, safe='')}/reviews"
        params = {}
        if self.config.locale:
            params["locale"] = self.config.locale
        if self.config.sort_by:
            params["sort_by"] = self.config.sort_by
        resp = await request(
            self.session, "GET", url, params=params, headers=self._headers,
            timeout=self.config.timeout.total_seconds(), rate_limit=YELP_RATE_LIMIT, now=self.clock.now,
            ok_statuses=frozenset({401, 403, 429}),
        )
        if resp.status in (401, 403, 429):
            self._refused(url, resp)
        return resp

    def _refused(self, url: str, resp: Response) -> None:
        """Map Yelp's 401/403/429 by their error code: per-second limit, daily budget, or credentials."""
        code = _error_code(resp.body)
        now = self.clock.now()
        message = f"{describe('GET', url)}: HTTP {resp.status} {code}".rstrip()
        retry_after = parse_retry_after(resp.headers.get("Retry-After"), now)
        if code == "TOO_MANY_REQUESTS_PER_SECOND":
            raise TransientSourceError(message, retry_after=retry_after if retry_after is not None else QPS_WAIT)
        if code == "ACCESS_LIMIT_REACHED" or resp.status == 429:
            if retry_after is None:
                retry_after = YELP_RATE_LIMIT.seconds_until_reset(resp.headers, now)
            raise TransientSourceError(message, retry_after=retry_after if retry_after is not None
                                       else _next_utc_midnight(now))
        raise SourceAuthError(message)

    async def poll(self, since: Cursor | None) -> Page:
        """Read each business's excerpts; keep those newer than the cursor."""
        self._spent = False
        streams = [(f"biz:{b}", partial(self._fetch, b), f"{self.name} {b}") for b in self.config.businesses]
        page = await self.read_streams(since, streams, max_pages=1, stop=lambda: self._spent)
        if self._spent:
            self._log.info("%s: daily Yelp budget used up; the other businesses wait", self.name)
        return page

    async def _fetch(self, business: str, _: str | None) -> tuple[list[Item], str | None]:
        """The (single) page of excerpts of one business; there is no paging."""
        resp = await self._get(business)
        self._spent = YELP_RATE_LIMIT.exhausted_for(resp.headers, self.clock.now()) is not None
        reviews = resp.data.get("reviews") if isinstance(resp.data, Mapping) else None
        if not isinstance(reviews, list):
            raise MalformedResponseError(f"{self.name}: reviews answer has no reviews list")
        items = []
        for raw in self.objects(reviews):
            try:
                mention = to_mention(raw, source=self.name, brand=self.brand, business=business,
                                     tz=self.config.timezone)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(raw.get("id"), why_skipped(err))
                continue
            items.append(Item(mention.created_at, mention.external_id, mention))
        # Yelp's own order is not by date: sort newest first, as read_newest_first expects.
        items.sort(key=lambda i: i.changed, reverse=True)
        return items, None

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Yelp's API shows no owner replies: nothing to find (clocks stop with `listener ack`)."""
        return []
