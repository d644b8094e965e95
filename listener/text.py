"""Normalisation of untrusted text before it is stored (never fails, never loses the gist)."""

from __future__ import annotations

import functools
import re

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


@functools.lru_cache(maxsize=256)
def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """Any of `keywords` as a whole word, case-insensitive (clock priority and listening watches share it)."""
    # Whole words, without \b so keywords such as "#recall" or "c++" still work.
    alternatives = "|".join(re.escape(k.strip()) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
