"""Meta Graph API plumbing shared by facebook, instagram and threads: errors, usage headers, paging."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from config.types import Duration
from connectors._http import Response
from connectors._parse import MalformedItemError, text_id
from connectors._social import HttpConnectorBase, HttpSourceConfig, data_of, list_at, secret
from listener.errors import SourceAuthError, SourceError, TransientSourceError

if TYPE_CHECKING:
    from connectors._meta_webhook import Account, WebhookItems

logger = logging.getLogger(__name__)

# https://developers.facebook.com/docs/graph-api/guides/error-handling and .../overview/rate-limiting
AUTH_CODES = frozenset({102, 190})  # session / access token invalid or expired
PERMISSION_CODES = frozenset({3, 10, *range(200, 300)})  # the token lacks a permission or Page task
RATE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})  # app, user, Page, hourly and BUC limits
TRANSIENT_CODES = frozenset({1, 2, 341, 368})  # unknown, service, temporarily blocked
GONE_CODE = 100  # invalid parameter; with subcode 33 the object was deleted or is hidden from this token
DEPRECATED_CODE = 12  # the edge or field no longer exists in this API version
DEFAULT_RATE_WAIT = 600.0  # seconds: platform limits are a rolling hour; this is a first step, not the whole hour
_ALL_4XX = frozenset(range(400, 500))
# What mapping one hostile or odd record can raise; such a record is logged and skipped, never
# allowed to fail the page (the cursor would stop there for good). SourceError is not among them.
BAD_ITEM = (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError, RecursionError)


def why(err: BaseException) -> str:
    """A skip reason: our own message for a malformed item, else the exception type too."""
    return str(err) if isinstance(err, MalformedItemError) else f"{type(err).__name__}: {err}"
_ACCESS_TOKEN = "access_token"


class MetaConfig(HttpSourceConfig):
    """Keys shared by the Graph API connectors (facebook, instagram, threads)."""

    base_url: str = Field(default="https://graph.facebook.com", description="Graph API root.")
    api_version: str = Field(default="v24.0", description="Graph API version in every path.")
    access_token: SecretStr | None = Field(default=None, description="Long-lived token; ${META_PAGE_TOKEN}.")
    app_secret: SecretStr | None = Field(
        default=None, description="App secret: signs calls (appsecret_proof) and verifies webhooks."
    )
    verify_token: SecretStr | None = Field(
        default=None, description="Token typed into the app's webhook subscription (enables the webhook route)."
    )
    limit: int = Field(default=50, ge=1, le=100, description="Page size (1-100).")
    overlap: Duration = Field(default=timedelta(minutes=10), description="Re-read window for late items.")
    usage_threshold: int = Field(
        default=90, ge=1, le=100, description="Pause when X-App-Usage / X-Business-Use-Case-Usage reaches this %."
    )
    usage_pause: Duration = Field(default=timedelta(minutes=10), description="Pause once the threshold is reached.")
    reply_checks: int = Field(default=25, ge=0, le=500, description="Open mentions looked up per reply sweep.")


    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> MetaConfig:
        # An unsigned webhook would let anyone on the internet write mentions into the database.
        if self.enabled and secret(self.verify_token) and not secret(self.app_secret):
            raise ValueError("verify_token (webhooks) needs app_secret to check Meta's signatures")
        return self

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not value.startswith("v") or not value[1:].replace(".", "").isdigit():
            raise ValueError("must look like v24.0")
        return value


@dataclass(frozen=True, slots=True)
class GraphError:
    """The `error` object of a Graph API answer."""

    code: int | None
    subcode: int | None
    type: str
    message: str
    fbtrace_id: str

    def describe(self) -> str:
        """`code 190/463 OAuthException: message (fbtrace_id X)`: enough to find it in Meta's tools."""
        sub = f"/{self.subcode}" if self.subcode is not None else ""
        trace = f" (fbtrace_id {self.fbtrace_id})" if self.fbtrace_id else ""
        return f"code {self.code}{sub} {self.type}: {self.message}{trace}"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def graph_error(body: bytes) -> GraphError | None:
    """Parse `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`; None when absent."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    return GraphError(_int(error.get("code")), _int(error.get("error_subcode")), str(error.get("type") or ""),
                      str(error.get("message") or "")[:300], str(error.get("fbtrace_id") or ""))


def usage_of(headers: Mapping[str, str]) -> tuple[float, float | None]:
    """Highest usage percentage in the rate-limit headers, and Meta's regain-access estimate in seconds.

    `X-App-Usage` (and `X-Page-Usage`) hold `{"call_count", "total_cputime", "total_time"}`;
    `X-Business-Use-Case-Usage` holds `{"<id>": [{"type", "call_count", ..., "estimated_time_to_regain_access"}]}`
    with the estimate in minutes.
    """
    highest, regain = 0.0, None
    for name in ("X-App-Usage", "X-Page-Usage", "X-Ad-Account-Usage"):
        value = _json_header(headers.get(name))
        if isinstance(value, Mapping):
            highest = max(highest, _max_percent(value))
    buc = _json_header(headers.get("X-Business-Use-Case-Usage"))
    if isinstance(buc, Mapping):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, Mapping):
                    continue
                highest = max(highest, _max_percent(entry))
                minutes = entry.get("estimated_time_to_regain_access")
                if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
                    regain = max(regain or 0.0, float(minutes) * 60)
    return highest, regain


def _json_header(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        logger.debug("unreadable usage header %.80r", raw)
        return None


def _max_percent(entry: Mapping[str, Any]) -> float:
    values = [entry.get(k) for k in ("call_count", "total_cputime", "total_time", "acc_id_util_pct")]
    return max([float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)] or [0.0])


def raise_for_graph_error(what: str, resp: Response) -> None:
    """Map a non-2xx Graph answer to listener.errors by its error code (never by status alone)."""
    error = graph_error(resp.body)
    if error is None:
        if resp.status in (401, 403):
            raise SourceAuthError(f"{what}: HTTP {resp.status}")
        if resp.status == 429:
            raise TransientSourceError(f"{what}: HTTP 429", retry_after=DEFAULT_RATE_WAIT)
        raise SourceError(f"{what}: HTTP {resp.status}")
    message = f"{what}: HTTP {resp.status} {error.describe()}"
    if error.code in AUTH_CODES or error.type == "OAuthException" and error.code in (None, 2500):
        raise SourceAuthError(message)
    if error.code in PERMISSION_CODES:
        raise SourceAuthError(f"{message} (the token lacks a permission)")
    if error.code in RATE_CODES:
        _, regain = usage_of(resp.headers)
        raise TransientSourceError(f"{message} (rate limit)", retry_after=regain or DEFAULT_RATE_WAIT)
    if error.code in TRANSIENT_CODES or error.code is None and resp.status >= 500:
        raise TransientSourceError(message)
    raise GraphSourceError(message, error)


class GraphSourceError(SourceError):
    """A Graph error that needs an operator (bad parameter, unknown id, deprecated edge)."""

    def __init__(self, message: str, error: GraphError) -> None:
        super().__init__(message)
        self.error = error


def appsecret_proof(token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the access token keyed with the app secret (Meta's `appsecret_proof`)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def next_params(paging: Any) -> list[tuple[str, str]] | None:
    """Query parameters of the next page: `paging.cursors.after` when `paging.next` exists.

    Time-paged edges (`/feed`) send only `paging.next` with `until`/`__paging_token`; those
    parameters are taken from it, minus the access token (ours goes in the Authorization header).
    """
    if not isinstance(paging, Mapping):
        return None
    following = text_id(paging.get("next"))
    if not following:
        return None  # the last page may still carry cursors; only `next` says there is more
    cursors = paging.get("cursors")
    after = text_id(cursors.get("after")) if isinstance(cursors, Mapping) else None
    if after:
        return [("after", after)]
    pairs = [(k, v) for k, v in parse_qsl(urlsplit(following).query) if k not in (_ACCESS_TOKEN, "appsecret_proof")]
    return pairs or None


MetaConfigT = TypeVar("MetaConfigT", bound=MetaConfig)


class GraphConnectorBase(HttpConnectorBase[MetaConfigT]):
    """GET with Graph error mapping, usage-header back-off and cursor paging."""

    def setup(self) -> None:
        """Bearer token and `appsecret_proof` for every Graph call."""
        token = secret(self.config.access_token)
        self.headers["Authorization"] = f"Bearer {token}"
        proof_secret = secret(self.config.app_secret)
        self._proof = [("appsecret_proof", appsecret_proof(token, proof_secret))] if token and proof_secret else []
        self.paused_until: datetime | None = None

    webhook_object: ClassVar[str] = ""  # `object` of the Meta webhooks this connector takes ("page", "instagram")

    @property
    def webhook_id(self) -> str:
        """The account id Meta puts in `entry[].id` (Page id, IG User id)."""
        return ""

    def webhook_account(self) -> Account:
        """How webhook entries for this account are mapped (brand recognition and attribution)."""
        from connectors._meta_webhook import Account  # the webhook mapper uses this module's error helpers

        own = self.own(self.webhook_id)
        return Account(source=self.name, account_id=self.webhook_id, is_brand=self.is_brand, attribute=self.attribute,
                       brands=own or tuple(self.config.attribute_to) or tuple(b.name for b in self.brands[:1]))

    def is_brand(self, ident: str, name: str = "") -> bool:
        """Whether an author id / name is the brand's own account here."""
        return ident == self.webhook_id or bool(self.own(ident, name))

    async def webhook_entry(self, obj: str, entry: Mapping[str, Any], now: datetime) -> WebhookItems:
        """Map one verified webhook entry addressed to this account."""
        from connectors._meta_webhook import entry_items

        return await entry_items(self.webhook_account(), obj, entry, now)

    def url(self, path: str, version: str | None = None) -> str:
        """Absolute URL of a Graph path (`/{id}/comments`) under the configured version."""
        return f"{self.config.base_url}/{version or self.config.api_version}{path}"

    def paused(self) -> bool:
        """True (and logged) while a usage pause runs: the poll asks nothing."""
        if self.paused_until is None:
            return False
        if self.clock.now() >= self.paused_until:
            self.paused_until = None
            return False
        logger.info("%s: API usage near its limit; no calls until %s", self.name, self.paused_until.isoformat())
        return True

    async def graph(self, path: str, params: Sequence[tuple[str, Any]] = (), *, version: str | None = None,
                    url: str | None = None) -> Mapping[str, Any]:
        """One Graph GET: errors mapped by code, usage headers watched; returns the JSON object."""
        target = url or self.url(path, version)
        resp = await self.get(target, [*params, *self._proof], ok=_ALL_4XX)
        what = f"{self.name}: GET {path}"
        if resp.status >= 400:
            raise_for_graph_error(what, resp)
        self._watch_usage(resp)
        return data_of(resp, what)

    def _watch_usage(self, resp: Response) -> None:
        percent, regain = usage_of(resp.headers)
        if percent < self.config.usage_threshold:
            return
        wait = max(regain or 0.0, self.config.usage_pause.total_seconds())
        until = self.clock.now() + timedelta(seconds=wait)
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until
        logger.warning("%s: API usage at %.0f%% (threshold %d%%); pausing calls for %.0fs",
                       self.name, percent, self.config.usage_threshold, wait)

    async def pages(self, path: str, params: Sequence[tuple[str, Any]], *, max_pages: int | None = None,
                    version: str | None = None) -> AsyncIterator[list[Any]]:
        """Yield the `data` list of each page (stops at `max_pages`, the last page, or a usage pause)."""
        sent = list(params)
        for _ in range(max_pages or self.config.max_pages):
            data = await self.graph(path, sent, version=version)
            yield list_at(data, "data", f"{self.name}: {path}", optional=True)
            following = next_params(data.get("paging"))
            if not following or self.paused_until is not None:
                return
            # The next page is this request with the paging keys (after, or until/__paging_token) replaced.
            keys = {k for k, _ in following}
            sent = [(k, v) for k, v in params if k not in keys] + following
