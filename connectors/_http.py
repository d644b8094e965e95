"""The one place connectors make HTTP requests: timeout, User-Agent, body limit, JSON, error mapping.

Every request of every connector goes through `request`, OAuth token exchanges included (`form=`
and `basic_auth=` send `application/x-www-form-urlencoded` bodies), so the body limit (`MAX_BODY`),
the timeout around the whole exchange, the User-Agent and the `Retry-After` / rate-limit reading hold
for all of them. Retries themselves are the poller's business (`listener.backoff`): this module
says how long to wait by raising `TransientSourceError(retry_after=...)`.

Every failure leaves this module as a `listener.errors` exception:

* 401 / 403 -> `SourceAuthError` (credentials rejected; the poller stops the source).
* 408, 429, 5xx, connection errors, timeouts -> `TransientSourceError`, with `retry_after`
  from `Retry-After` (seconds or HTTP date) or, failing that, from the API's own rate-limit
  reset header (described by a `RateLimitHeaders`).
* A body that is not the JSON promised -> `MalformedResponseError`, a `TransientSourceError`:
  truncated bodies and HTML error pages from proxies or maintenance screens are what we see in
  practice, and they pass; the cursor is not advanced, so nothing is lost while we retry.
* Any other 4xx -> `SourceError` (a bad request: an operator has to look).

Messages name the method, host and path only: query strings may carry API keys, and no
header (Authorization above all) is ever logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from connectors.timeutil import to_utc
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from listener.http import MAX_BODY, USER_AGENT, BodyTooLargeError, parse_retry_after, read_bounded
from listener.redact import redact

__all__ = [
    "DEFAULT_TIMEOUT", "MASTODON_RATE_LIMIT", "MAX_BODY", "USER_AGENT", "MalformedResponseError", "RateLimitHeaders",
    "Response", "describe", "parse_link_header", "parse_retry_after", "query_param", "request", "without_surrogates",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
_SNIPPET = 200  # characters of an error body worth quoting in a message


class MalformedResponseError(TransientSourceError):
    """The server answered 2xx but the body was not the JSON (or the shape) promised."""


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """How one API announces its rate-limit window (header names and reset semantics).

    `reset_is_delta`: the reset header counts seconds until the window ends (Reddit) instead
    of naming the instant it ends (Mastodon ISO-8601, X and Bluesky epoch seconds).
    """

    remaining: str = "X-RateLimit-Remaining"
    reset: str = "X-RateLimit-Reset"
    reset_is_delta: bool = False

    def remaining_calls(self, headers: Mapping[str, str]) -> float | None:
        """Calls left in the window, or None when the header is absent or unreadable."""
        try:
            return float(headers[self.remaining])
        except (KeyError, ValueError):
            return None

    def seconds_until_reset(self, headers: Mapping[str, str], now: datetime) -> float | None:
        """Seconds until the window resets, or None when the header is absent or unreadable."""
        raw = headers.get(self.reset)
        if raw is None:
            return None
        try:
            if self.reset_is_delta:
                return max(0.0, float(raw))
            return max(0.0, (to_utc(raw) - now).total_seconds())
        except ValueError:
            logger.debug("unreadable %s header %r", self.reset, raw)
            return None

    def exhausted_for(self, headers: Mapping[str, str], now: datetime) -> float | None:
        """Seconds to wait when no calls remain in the window; None while calls remain."""
        remaining = self.remaining_calls(headers)
        if remaining is None or remaining > 0:
            return None
        return self.seconds_until_reset(headers, now)


MASTODON_RATE_LIMIT = RateLimitHeaders()


@dataclass(frozen=True, slots=True)
class Response:
    """A successful response: decoded body plus what the caller may need from the headers."""

    status: int
    url: str
    headers: CIMultiDictProxy[str] = field(repr=False)
    body: bytes = field(repr=False)
    data: Any = field(default=None, repr=False)

    def links(self) -> dict[str, str]:
        """The `Link` header as `{rel: url}` (RFC 8288; Mastodon pages with it)."""
        return parse_link_header(self.headers.get("Link", ""))

    def text(self, encoding: str = "utf-8") -> str:
        """The body decoded as text (undecodable bytes replaced)."""
        return self.body.decode(encoding, "replace")


def parse_link_header(value: str) -> dict[str, str]:
    """Parse `<url>; rel="next", <url>; rel="prev"` into `{"next": url, "prev": url}`."""
    links: dict[str, str] = {}
    for part in _split_links(value):
        target, _, params = part.partition(">")
        url = target.strip().lstrip("<").strip()
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            if key.strip().lower() == "rel" and url:
                for rel in val.strip().strip('"').split():
                    links.setdefault(rel.lower(), url)
    return links


def _split_links(value: str) -> list[str]:
    # Commas may appear inside <...> (query strings), so split only outside angle brackets.
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in value:
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (s.strip() for s in parts) if p]


def query_param(url: str, name: str) -> str | None:
    """First value of query parameter `name` in `url` (e.g. `min_id` of a Link target)."""
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def describe(method: str, url: str | URL) -> str:
    """`GET host/path`: enough to find the request, without a query that may hold secrets."""
    parts = urlsplit(str(url))
    return f"{method.upper()} {parts.netloc}{parts.path}"


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    expect_json: bool = True,
    rate_limit: RateLimitHeaders | None = None,
    now: Callable[[], datetime] | None = None,
    ok_statuses: frozenset[int] = frozenset(),
) -> Response:
    """Send one request with the shared session and map every failure to listener.errors.

    Args:
        session: the daemon's shared `aiohttp.ClientSession` (never created here).
        method: HTTP method.
        url: absolute URL; a `yarl.URL(..., encoded=True)` keeps percent-escapes an API needs
            (LinkedIn's URNs), which a plain string would have decoded.
        params: query parameters; a list of pairs allows repeated keys (`types[]`).
        headers: extra request headers (Authorization goes here; it is never logged).
        json_body: JSON request body, if any.
        form: a form body (`application/x-www-form-urlencoded`, what OAuth token endpoints take);
            not together with `json_body`.
        basic_auth: `(user, password)` sent as HTTP Basic `Authorization` (OAuth client credentials).
        timeout: seconds for the whole exchange, body included.
        expect_json: decode the body as JSON into `Response.data`.
        rate_limit: the API's rate-limit headers, used for `retry_after` when the server sends
            no `Retry-After`.
        now: clock for HTTP-date and reset-time arithmetic (defaults to the system clock).
        ok_statuses: non-2xx statuses the caller handles itself (e.g. 304, or 404 for a
            hashtag that does not exist yet); they are returned without decoding.

    Returns:
        The `Response`, with `data` holding the decoded JSON when `expect_json`.

    Raises:
        SourceAuthError: 401 or 403.
        TransientSourceError: 408, 429, 5xx, network error, timeout, malformed JSON.
        SourceError: any other 4xx, or an unexpected status.
    """
    if form is not None and json_body is not None:
        raise ValueError("request: a body is either json_body or form, not both")
    what = describe(method, url)
    sent_headers = CIMultiDict({"User-Agent": USER_AGENT, "Accept": "application/json"})
    if basic_auth is not None:
        pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
        sent_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    if headers:
        sent_headers.update(headers)
    try:
        async with asyncio.timeout(timeout):
            async with session.request(
                method, url, params=params, headers=sent_headers, json=json_body,
                data=dict(form) if form is not None else None, allow_redirects=True,
            ) as resp:
                body = await _read_bounded(resp, what)
                status, resp_headers, final_url = resp.status, resp.headers, str(resp.url)
    except TimeoutError as err:
        raise TransientSourceError(f"{what}: no complete answer within {timeout:g}s") from err
    except aiohttp.ClientError as err:
        raise TransientSourceError(f"{what}: {type(err).__name__}: {redact(str(err))}") from err
    clock_now = now() if now is not None else datetime.now(UTC)
    if status in ok_statuses:
        return Response(status, final_url, resp_headers, body)
    _raise_for_status(what, status, resp_headers, body, rate_limit, clock_now)
    data = _decode(what, body) if expect_json and status != 204 else None
    return Response(status, final_url, resp_headers, body, data)


async def _read_bounded(resp: aiohttp.ClientResponse, what: str) -> bytes:
    """The whole body, or MalformedResponseError as soon as it passes MAX_BODY bytes."""
    try:
        return await read_bounded(resp.content.iter_chunked(1 << 16), content_length=resp.content_length,
                                  limit=MAX_BODY)
    except BodyTooLargeError as err:
        raise MalformedResponseError(f"{what}: {err}") from None


def _raise_for_status(
    what: str,
    status: int,
    headers: CIMultiDictProxy[str],
    body: bytes,
    rate_limit: RateLimitHeaders | None,
    now: datetime,
) -> None:
    if 200 <= status < 300:
        return
    message = f"{what}: HTTP {status}{_snippet(body)}"
    if status in (401, 403):
        raise SourceAuthError(message)
    if status in (408, 429) or status >= 500:
        wait = parse_retry_after(headers.get("Retry-After"), now)
        if wait is None and rate_limit is not None:
            # A reset time only says when the window ends; it is the wait only once the
            # window is used up (a 429, or no calls left), not for a 503.
            if status == 429:
                wait = rate_limit.seconds_until_reset(headers, now)
            else:
                wait = rate_limit.exhausted_for(headers, now)
        raise TransientSourceError(message, retry_after=wait)
    raise SourceError(message)


def _decode(what: str, body: bytes) -> Any:
    if not body.strip():
        raise MalformedResponseError(f"{what}: empty body where JSON was expected")
    try:
        data = json.loads(body)
        # JSON may spell lone surrogates (`"\ud800"`); they cannot be stored as UTF-8 and would
        # fail every later poll of the same page, so they become `?` here, once, for all connectors.
        return without_surrogates(data) if b"\\ud" in body.lower() else data
    except RecursionError as err:  # absurdly deep nesting: hostile or broken, never a real page
        raise MalformedResponseError(f"{what}: JSON nested too deeply") from err
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise MalformedResponseError(f"{what}: body is not valid JSON ({err}){_snippet(body)}") from err


def without_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys included) replaced by `?` (as clean_text does)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(value) else value
    if isinstance(value, list):
        return [without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _snippet(body: bytes) -> str:
    """A short, redacted quote of an error body (servers explain themselves there)."""
    text = " ".join(body[: _SNIPPET * 4].decode("utf-8", "replace").split())
    if not text:
        return ""
    if len(text) > _SNIPPET:
        text = text[: _SNIPPET - 1] + "…"
    return f": {redact(text)}"
