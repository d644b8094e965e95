"""What every outbound HTTP client of ours shares: the User-Agent, the body limit and `Retry-After`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from listener import USER_AGENT

__all__ = ["MAX_BODY", "USER_AGENT", "BodyTooLargeError", "parse_retry_after", "read_bounded"]

# No API page or sink answer we read comes near this; a bigger body is a broken or hostile server, and
# reading it whole would let one server exhaust the daemon's memory.
MAX_BODY = 32 * 1024 * 1024


class BodyTooLargeError(ValueError):
    """A response body passed the limit; the message says how big it was said or seen to be."""


async def read_bounded(
    chunks: AsyncIterator[bytes], *, content_length: int | None = None, limit: int = MAX_BODY
) -> bytes:
    """The whole body from `chunks`, or BodyTooLargeError as soon as it passes `limit` bytes.

    `content_length` (the declared length, when the server sent one) refuses an announced
    oversized body before reading any of it.
    """
    if content_length is not None and content_length > limit:
        raise BodyTooLargeError(f"body of {content_length} bytes exceeds {limit}")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"body exceeds {limit} bytes")
    return bytes(body)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
