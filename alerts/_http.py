"""One HTTP attempt for the HTTP sinks, with every failure turned into the right `SinkError`.

The outbox retries: this module only decides whether an answer is a success, a retry later
(429 with its `Retry-After`, 408/425, 5xx, network trouble) or a permanent error that needs an
operator (other 4xx, a redirect). Error texts never carry the URL (webhook URLs are secrets).
Like the connectors' requests, every request names us with `listener.USER_AGENT` and reads at most
`listener.http.MAX_BODY` bytes of the answer.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict

from alerts._format import one_line, truncate
from listener.errors import SinkError
from listener.http import MAX_BODY, USER_AGENT, BodyTooLargeError, parse_retry_after, read_bounded

__all__ = ["Answer", "parse_retry_after", "raise_for", "request", "short"]

_RETRY_STATUSES = frozenset({408, 425, 429})
_WORDS = re.compile(r"[A-Za-z0-9_.:' -]{1,200}")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server said: status, headers and the body (text, and JSON when it parsed)."""

    status: int
    headers: Mapping[str, str]
    text: str
    data: Any = None


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request; network trouble, timeouts and an answer over `MAX_BODY` raise a retryable `SinkError`
    naming only `what`."""
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        async with asyncio.timeout(timeout):
            async with session.request(method, url, data=body, headers=sent, allow_redirects=False) as response:
                raw = await read_bounded(response.content.iter_chunked(1 << 16),
                                         content_length=response.content_length, limit=MAX_BODY)
                text = _decode(raw, response.charset)
                data = None
                if "json" in (response.content_type or "") and text.strip():
                    try:
                        data = json.loads(text)
                    except (ValueError, RecursionError):
                        data = None
                return Answer(response.status, CIMultiDict(response.headers), text, data)
    except BodyTooLargeError as err:
        raise SinkError(f"{what}: answer {err}") from None
    except (TimeoutError, aiohttp.ClientError, OSError) as err:
        # `from None`: aiohttp errors can carry the request URL; the class name is enough.
        raise SinkError(f"{what} failed: {type(err).__name__}") from None


def _decode(raw: bytes, charset: str | None) -> str:
    """The answer as text in its declared charset (UTF-8 when none or an unknown one); bad bytes replaced."""
    try:
        return raw.decode(charset or "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def short(text: str) -> str:
    """A server's error text, cleaned and cut for a log line (it may come from anywhere)."""
    return truncate(one_line(text), 200)


def raise_for(answer: Answer, what: str, now: datetime, *, detail: str = "") -> None:
    """Raise the `SinkError` an unsuccessful answer means; return for 2xx."""
    status = answer.status
    if 200 <= status < 300:
        return
    said = f": {short(detail)}" if detail else ""
    if status in _RETRY_STATUSES or status >= 500:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"), now)
        kind = "rate limited" if status == 429 else f"HTTP {status}"
        raise SinkError(f"{what}: {kind}{said}", retry_after=retry_after)
    if 300 <= status < 400:
        # Following a redirect would turn the POST into a GET (or re-send it elsewhere): configure the final URL.
        raise SinkError(f"{what}: HTTP {status} redirect; configure the final URL", permanent=True)
    raise SinkError(f"{what}: HTTP {status}{said}", permanent=True)
