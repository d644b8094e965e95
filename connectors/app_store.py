"""Apple App Store: customer reviews and the developer's responses (App Store Connect API, ES256 JWT),
and the public customer-reviews feed as a no-auth fallback that cannot show responses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors._cursor import dump_cursor, id_order, load_cursor, newest_id
from connectors._http import MalformedResponseError, Response, describe, parse_retry_after, request
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
from listener.errors import TransientSourceError
from listener.redact import register_secret

AUDIENCE = "appstoreconnect-v1"
_TOKEN_LIFETIME = timedelta(minutes=19)  # Apple refuses tokens that live longer than 20 minutes
_RENEW_BEFORE = timedelta(seconds=60)
# Apple's hourly limit is a rolling window with no reset time: pause this long when it is used up,
# and a minute for a burst 429 while calls remain (a forum report shows those exist).
EXHAUSTED_WAIT = 300.0
BURST_WAIT = 60.0
_RATE_PART = re.compile(r"\s*([\w-]+)\s*:\s*(-?\d+)\s*")


def app_url(app_id: str, country: str | None = None) -> str:
    """Link to the app's reviews on the App Store (the APIs give no per-review link)."""
    where = f"{country}/" if country else ""
    return f"https://apps.apple.com/{where}app/id{quote(app_id, safe='')}?see-all=reviews"


# -- App Store Connect --------------------------------------------------------------------------


class AppStoreConfig(ReviewConfig):
    """[connectors.<name>] with type = "app_store" (App Store Connect API)."""

    type: str = "app_store"
    app_id: str = Field(description="The app's Apple ID (numeric, as in App Store Connect).")
    issuer_id: str = Field(description="API key issuer id (App Store Connect > Users and Access > Integrations).")
    key_id: str = Field(description="API key id (the kid of the .p8 key).")
    private_key: SecretStr | None = Field(
        default=None, description="The .p8 key's PEM text; put ${ASC_PRIVATE_KEY} here."
    )
    private_key_file: Path | None = Field(default=None, description="Path of the .p8 key file.")
    base_url: str = Field(
        default="https://api.appstoreconnect.apple.com", description="API root (a proxy or a local fake)."
    )
    limit: int = Field(default=100, ge=1, le=200, description="Reviews per page (200 at most).")
    territory: str | None = Field(
        default=None, description="Only reviews from this storefront (ISO alpha-3, e.g. USA)."
    )
    count_pending_responses: bool = Field(
        default=True, description="A response waiting for publication (PENDING_PUBLISH) already stops the clock."
    )
    max_pages: int = Field(default=5, ge=1, le=100, description="Pages read per poll when catching up.")
    reply_checks: int = Field(
        default=20, ge=0, le=1000, description="Open complaints re-checked per poll for a response."
    )


    @field_validator("app_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        if not value.strip().isdigit():
            raise ValueError("must be the app's numeric Apple ID, e.g. 682658836")
        return value.strip()

    @field_validator("territory")
    @classmethod
    def _alpha3(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
            raise ValueError("must be an ISO 3166 alpha-3 code such as USA")
        return value.strip().upper() if value else None

    @model_validator(mode="after")
    def _one_key(self) -> AppStoreConfig:
        if not self.enabled:  # a disabled table may leave its key unset
            return self
        has_text = bool(self.private_key and self.private_key.get_secret_value().strip())
        if has_text == (self.private_key_file is not None):
            raise ValueError("set exactly one of private_key (PEM text) or private_key_file")
        signing_key(self)  # raises ValueError with a clear message
        return self


def signing_key(config: AppStoreConfig) -> ec.EllipticCurvePrivateKey:
    """Load the configured .p8 key; ValueError (never quoting the key) when it is not an EC key."""
    if config.private_key_file is not None:
        try:
            pem = config.private_key_file.read_bytes()
        except OSError as err:
            raise ValueError(f"cannot read private_key_file {str(config.private_key_file)!r}: "
                             f"{err.strerror or err}") from err
    else:
        pem = config.private_key.get_secret_value().strip().encode() if config.private_key else b""
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("the private key is not a PEM private key (paste the whole .p8 file)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the private key is not an EC (P-256) key as App Store Connect issues")
    return key


class ConnectTokens:
    """Signs and caches the short-lived ES256 bearer token App Store Connect wants."""

    def __init__(self, config: AppStoreConfig) -> None:
        self.issuer_id, self.key_id = config.issuer_id, config.key_id
        self._key = signing_key(config)
        self._token: str | None = None
        self._expires: datetime | None = None
        if config.private_key:
            register_secret(config.private_key.get_secret_value().strip())

    def token(self, now: datetime) -> str:
        """A valid token, signed afresh shortly before the last one expires."""
        if self._token is None or self._expires is None or now >= self._expires - _RENEW_BEFORE:
            expires = now + _TOKEN_LIFETIME
            claims = {"iss": self.issuer_id, "iat": int(now.timestamp()), "exp": int(expires.timestamp()),
                      "aud": AUDIENCE}
            self._token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id, "typ": "JWT"})
            self._expires = expires
        return self._token


def rate_limit_state(value: str | None) -> dict[str, int]:
    """`X-Rate-Limit: user-hour-lim:3500;user-hour-rem:500;` as {"user-hour-lim": 3500, ...}."""
    found: dict[str, int] = {}
    for part in (value or "").split(";"):
        match = _RATE_PART.fullmatch(part)
        if match:
            found[match.group(1).lower()] = int(match.group(2))
    return found


def _error_codes(body: bytes) -> list[str]:
    """The `errors[].code` values of an App Store Connect error body."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return []
    errors = data.get("errors") if isinstance(data, Mapping) else None
    return [e["code"] for e in errors or () if isinstance(e, Mapping) and isinstance(e.get("code"), str)]


def to_mention(raw: Mapping[str, Any], *, source: str, brand: str, app_id: str) -> Mention:
    """Map a `customerReviews` resource to a Mention; MalformedItemError without id or createdDate."""
    ident = text_id(raw.get("id"))
    if ident is None:
        raise MalformedItemError("review has no id")
    attributes = raw.get("attributes")
    if not isinstance(attributes, Mapping):
        raise MalformedItemError("review has no attributes")
    nickname = optional_text(attributes.get("reviewerNickname")).strip()
    return review_mention(
        source=source,
        external_id=ident,
        text=join_title(optional_text(attributes.get("title")), optional_text(attributes.get("body"))),
        author=nickname or "App Store user",
        author_name=nickname,
        created_at=required_time(attributes.get("createdDate"), "createdDate"),
        rating=rating_of(attributes.get("rating")),
        brand=brand,
        url=app_url(app_id),
        raw=raw,  # no edited_at: App Store Connect has no review-modified time
    )


def response_reply(
    review_id: str, response: Mapping[str, Any], *, source: str, brand: str, count_pending: bool
) -> Reply | None:
    """A `customerReviewResponses` resource as the brand's Reply, or None when it does not count yet."""
    attributes = response.get("attributes")
    if not isinstance(attributes, Mapping):
        raise MalformedItemError("response has no attributes")
    state = attributes.get("state")
    if state != "PUBLISHED" and not (count_pending and state == "PENDING_PUBLISH"):
        return None
    at = required_time(attributes.get("lastModifiedDate"), "response lastModifiedDate")
    return review_reply(source=source, review_id=review_id, brand=brand, at=at,
                        text=optional_text(attributes.get("responseBody")))


def _linked_response_id(raw: Mapping[str, Any]) -> str | None:
    relationships = raw.get("relationships")
    response = relationships.get("response") if isinstance(relationships, Mapping) else None
    data = response.get("data") if isinstance(response, Mapping) else None
    return text_id(data.get("id")) if isinstance(data, Mapping) else None


class AppStoreConnector(ReviewConnectorBase[AppStoreConfig]):
    """Polls an app's customer reviews and responses on App Store Connect; see docs/sources-reviews.md."""

    type_name: ClassVar[str] = "app_store"
    can_see_replies: ClassVar[bool] = True
    shows: ClassVar[tuple[str, ...]] = (
        "every customer review of the app, with its rating and territory",
        "the developer's response (pending or published)",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "edits to a review (no modified time)", "a link to each review", "ratings without a review",
        "deleted reviews",
    )

    def setup(self) -> None:
        """App Store Connect tokens and the app's stream key."""
        self.tokens = ConnectTokens(self.config)
        self.stream = f"app:{self.config.app_id}"
        self.rate_state: dict[str, int] = {}  # the last X-Rate-Limit seen (for logs and tests)

    async def _get(self, path_and_query: str, params: Mapping[str, str] | None = None,
                   *, ok: frozenset[int] = frozenset()) -> Response:
        url = self.config.base_url + path_and_query
        resp = await request(
            self.session, "GET", url, params=params,
            headers={"Authorization": f"Bearer {self.tokens.token(self.clock.now())}"},
            timeout=self.config.timeout.total_seconds(), now=self.clock.now, ok_statuses=ok | {429},
        )
        self.rate_state = rate_limit_state(resp.headers.get("X-Rate-Limit"))
        if resp.status == 429:
            codes = _error_codes(resp.body)
            wait = parse_retry_after(resp.headers.get("Retry-After"), self.clock.now())
            if wait is None:
                wait = EXHAUSTED_WAIT if self._exhausted() else BURST_WAIT
            raise TransientSourceError(f"{describe('GET', url)}: HTTP 429 {' '.join(codes) or 'rate limited'}",
                                       retry_after=wait)
        return resp

    def _exhausted(self) -> bool:
        remaining = self.rate_state.get("user-hour-rem")
        return remaining is not None and remaining <= 0

    def _first_path(self) -> tuple[str, dict[str, str]]:
        params = {"sort": "-createdDate", "limit": str(self.config.limit), "include": "response"}
        if self.config.territory:
            params["filter[territory]"] = self.config.territory
        return f"/v1/apps/{quote(self.config.app_id, safe='')}/customerReviews", params

    def _next_path(self, data: Mapping[str, Any]) -> str | None:
        """`links.next` as a path on our base_url (a proxy or fake keeps working)."""
        links = data.get("links")
        target = links.get("next") if isinstance(links, Mapping) else None
        if not isinstance(target, str) or not target:
            return None
        parts = urlsplit(target)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def poll(self, since: Cursor | None) -> Page:
        """Read reviews newer than the cursor, newest first, with their responses."""
        page = await self.read_streams(since, [(self.stream, self._fetch, self.name)],
                                       max_pages=self.config.max_pages, stop=self._exhausted)
        if self._exhausted():
            self._log.info("%s: hourly request limit used up; the rest waits for a later poll", self.name)
        return page

    async def _fetch(self, next_path: str | None) -> tuple[list[Item], str | None]:
        """One page of customer reviews (the first, or the one `links.next` named) as items."""
        if next_path is None:
            path, params = self._first_path()
            resp = await self._get(path, params)
        else:
            resp = await self._get(next_path)
        data, reviews = self._page(resp)
        included = self._included(data)
        items = []
        for raw in reviews:
            try:
                mention = to_mention(raw, source=self.name, brand=self.brand, app_id=self.config.app_id)
            except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                self._skip(raw.get("id"), why_skipped(err))
                continue
            linked = _linked_response_id(raw)
            reply = self._response(mention.external_id, included[linked]) if linked in included else None
            items.append(Item(mention.created_at, mention.external_id, mention, reply))
        return items, self._next_path(data)

    def _response(self, review_id: str, response: Mapping[str, Any]) -> Reply | None:
        try:
            return response_reply(review_id, response, source=self.name, brand=self.brand,
                                  count_pending=self.config.count_pending_responses)
        except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
            self._skip(review_id, why_skipped(err))
            return None

    def _page(self, resp: Response) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
        data = resp.data
        reviews = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(reviews, list):
            raise MalformedResponseError(f"{self.name}: customerReviews answer has no data list")
        good = self.objects(reviews)
        return data, good

    @staticmethod
    def _included(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        included = data.get("included")
        items = included if isinstance(included, list) else []
        return {
            str(item["id"]): item
            for item in items
            if isinstance(item, Mapping) and item.get("type") == "customerReviewResponses" and text_id(item.get("id"))
        }

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """Ask `/v1/customerReviews/{id}/response` for each open review."""
        found: list[Reply] = []
        for mention in list(to)[: self.config.reply_checks]:
            resp = await self._get(f"/v1/customerReviews/{quote(mention.external_id, safe='')}/response",
                                   ok=frozenset({404}))
            if resp.status == 404:  # no response yet (or the review is gone)
                continue
            data = resp.data.get("data", ...) if isinstance(resp.data, Mapping) else ...
            if data is None:
                continue  # JSON:API's way of saying "no related resource"
            if not isinstance(data, Mapping):
                raise MalformedResponseError(f"{self.name}: review response answer has no data object")
            reply = self._response(mention.external_id, data)
            if reply is not None:
                found.append(reply)
            if self._exhausted():
                break
        return found


# -- public customer-reviews feed ----------------------------------------------------------------


class AppStoreRssConfig(ReviewConfig):
    """[connectors.<name>] with type = "app_store_rss" (public feed: no key, no responses)."""

    type: str = "app_store_rss"
    app_id: str = Field(description="The app's Apple ID (numeric, from its App Store link).")
    countries: tuple[str, ...] = Field(default=("us",), min_length=1,
                                       description="Storefronts to read (ISO alpha-2, e.g. us, gb, jp).")
    base_url: str = Field(default="https://itunes.apple.com", description="Feed root (a proxy or a local fake).")
    max_pages: int = Field(default=3, ge=1, le=10, description="Feed pages per country and poll (the feed has 10).")


    @field_validator("app_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        if not value.strip().isdigit():
            raise ValueError("must be the app's numeric Apple ID, e.g. 682658836")
        return value.strip()

    @field_validator("countries")
    @classmethod
    def _alpha2(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(c.strip().lower() for c in value)
        bad = [c for c in codes if not re.fullmatch(r"[a-z]{2}", c)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an ISO alpha-2 country code such as 'us'")
        return tuple(dict.fromkeys(codes))


def _label(value: Any) -> str:
    """The text of a feed value wrapped as `{"label": ...}`."""
    label = value.get("label") if isinstance(value, Mapping) else None
    return label if isinstance(label, str) else ""


def feed_entries(data: Any) -> list[Any]:
    """`feed.entry` as a list: it may be missing (no reviews) or a single object (one review)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("feed"), Mapping):
        raise ValueError("no feed object")
    entries = data["feed"].get("entry")
    if entries is None:
        return []
    return entries if isinstance(entries, list) else [entries]


def is_review(entry: Any) -> bool:
    """Reviews have `im:rating`; the app's own metadata entry (`im:name`, `im:artist`) has not."""
    return isinstance(entry, Mapping) and "im:rating" in entry


def rss_to_mention(
    raw: Mapping[str, Any], *, source: str, brand: str, app_id: str, country: str, seen_at: datetime
) -> Mention:
    """Map a feed entry to a Mention; MalformedItemError without an id.

    The feed's `updated` time is not always there; without it the time we first saw the review
    stands in, and `raw["created_at_estimated"]` says so.
    """
    ident = _label(raw.get("id")).strip()
    if not ident:
        raise MalformedItemError("entry has no id")
    updated = raw.get("updated")
    created = optional_time(_label(updated)) if updated is not None else None
    if updated is not None and created is None:
        raise MalformedItemError(f"bad updated {_label(updated)!r}")
    author = _label(mapping_of(raw.get("author")).get("name")).strip()
    content = _label(raw.get("content")).replace("\\n", "\n")  # some captures carry a literal backslash-n
    extra = {"country": country, "created_at_estimated": created is None}
    return review_mention(
        source=source,
        external_id=ident,
        text=join_title(_label(raw.get("title")), content),
        author=author or "App Store user",
        author_name=author,
        created_at=created or seen_at,
        rating=rating_of(_label(raw.get("im:rating"))),
        brand=brand,
        url=app_url(app_id, country),
        raw={**raw, **extra},
    )


class AppStoreRssConnector(ReviewConnectorBase[AppStoreRssConfig]):
    """Polls the public customer-reviews feed of an app; it cannot see the developer's responses."""

    type_name: ClassVar[str] = "app_store_rss"
    can_see_replies: ClassVar[bool] = False
    shows: ClassVar[tuple[str, ...]] = (
        "the newest reviews of each storefront, with rating",
    )
    hides: ClassVar[tuple[str, ...]] = (
        "the developer's responses (use `listener ack`)", "reviews beyond the feed's ~500 newest per storefront",
        "edits to a review", "ratings without a review", "a link to each review",
    )

    def _url(self, country: str, page: int) -> str:
        app = quote(self.config.app_id, safe="")
        return f"{self.config.base_url}/{country}/rss/customerreviews/page={page}/id={app}/sortby=mostrecent/json"

    async def poll(self, since: Cursor | None) -> Page:
        """Read each storefront's feed down to the newest review id seen before (by id order)."""
        state = load_cursor(since, source=self.name)
        saved = mapping_of(state.get("countries"))
        positions = {c: str(saved[c]) for c in self.config.countries if isinstance(saved.get(c), str | int)}
        mentions: dict[str, Mention] = {}
        for country in self.config.countries:
            newest = await self._poll_country(country, positions.get(country), mentions)
            # An empty storefront gets "0", below every review id: the next poll reads its first
            # burst down the pages instead of staying in first-poll mode (newest page only).
            positions[country] = newest if newest is not None else "0"
        return Page(mentions=list(mentions.values()), cursor=dump_cursor({"v": 1, "countries": positions}))

    async def _poll_country(self, country: str, position: str | None, mentions: dict[str, Mention]) -> str | None:
        newest = position
        for page in range(1, self.config.max_pages + 1):
            resp = await request(self.session, "GET", self._url(country, page),
                                 timeout=self.config.timeout.total_seconds(), now=self.clock.now,
                                 ok_statuses=frozenset({404}))
            if resp.status == 404:  # the app is not sold in this storefront, or the page is past the end
                break
            try:
                entries = feed_entries(resp.data)
            except ValueError as err:
                raise MalformedResponseError(f"{self.name}: {country} feed page {page}: {err}") from None
            reviews = [e for e in entries if is_review(e)]
            reached = False
            for raw in reviews:
                try:
                    mention = rss_to_mention(raw, source=self.name, brand=self.brand, app_id=self.config.app_id,
                                             country=country, seen_at=self.clock.now())
                except Exception as err:  # noqa: BLE001 - one bad record never stalls the source
                    self._skip(_label(raw.get("id")) or None, why_skipped(err))
                    continue
                if position is not None and id_order(mention.external_id) <= id_order(position):
                    reached = True
                    continue
                mentions[mention.external_id] = mention
                newest = newest_id([mention.external_id], newest)
            if position is None or reached or not reviews:
                break
        else:
            # The feed is all there is (10 pages): what lies below these pages cannot be fetched.
            self._log.warning("%s: %s feed: %d pages read without reaching review %s; reviews between "
                              "may be missing (raise max_pages or poll more often)",
                              self.name, country, self.config.max_pages, position)
        return newest

    async def replies(self, to: Sequence[Mention]) -> list[Reply]:
        """The feed never shows responses: nothing to find (clocks stop with `listener ack`)."""
        return []

