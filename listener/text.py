"""Normalisation of untrusted text before it is stored (never fails, never loses the gist)."""

from __future__ import annotations

MAX_TEXT = 20_000


def clean_text(value: str | None, *, limit: int = MAX_TEXT) -> str:
    """Make `value` safe to store: valid UTF-8 (lone surrogates replaced), no NULs, bounded length."""
    if not value:
        return ""
    text = value.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if len(text) > limit:
        text = text[: limit - 1] + "…" if limit > 0 else ""
    return text
