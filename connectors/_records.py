"""One bad record never stalls a source: the common base of "malformed" errors and the skip reason."""

from __future__ import annotations


class MalformedRecord(ValueError):
    """A record (post, review, status, line) lacks what we need; it is logged and skipped."""


def why_skipped(err: BaseException) -> str:
    """The log text for a record skipped because mapping it raised `err` (expected or not)."""
    if isinstance(err, MalformedRecord):
        return str(err)
    return f"{type(err).__name__}: {str(err)[:200]}"
