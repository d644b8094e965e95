"""Brand attribution: which brands a text talks about, and whether an author is a brand itself."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from connectors.base import BrandView
from listener.identity import Handle, parse_handle, same_account  # noqa: F401 (re-exported)

# Scripts written without spaces between words: a keyword there can only be matched as a
# substring, and a character of these scripts next to a Latin keyword counts as a boundary
# ("acmeのアプリ" mentions "acme").
_NO_SPACE_RANGES = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3000-\u303f"  # CJK symbols and punctuation
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3100-\u31ff"  # Bopomofo, Hangul compatibility Jamo, Katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
_NO_SPACE = re.compile(f"[{_NO_SPACE_RANGES}]")
# A "word character" for boundary purposes: a letter, digit or underscore of a spaced script.
_WORD_CHAR = f"[^\\W{_NO_SPACE_RANGES}]"


def normalise_text(text: str) -> str:
    """Fold case and width (NFKC), so "ＡＣＭＥ" and "Acme" compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def _term_pattern(term: str) -> str:
    folded = normalise_text(term.strip())
    escaped = re.escape(folded)
    if _NO_SPACE.search(folded):
        return escaped
    # Lookarounds instead of \b: "#acme" starts with a non-word char, where \b would fail.
    return f"(?<!{_WORD_CHAR}){escaped}(?!{_WORD_CHAR})"


def _compile(terms: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [_term_pattern(t) for t in terms if t.strip()]
    if not patterns:
        return None
    return re.compile("|".join(patterns))


@dataclass(frozen=True, slots=True)
class _CompiledBrand:
    name: str
    keywords: re.Pattern[str] | None
    exclude: re.Pattern[str] | None


@lru_cache(maxsize=64)
def _compiled(brands: tuple[BrandView, ...]) -> tuple[_CompiledBrand, ...]:
    return tuple(_CompiledBrand(b.name, _compile(b.keywords), _compile(b.exclude)) for b in brands)


def match_brands(text: str, brands: Sequence[BrandView]) -> tuple[str, ...]:
    """Names of the brands whose keywords occur in `text` and whose `exclude` terms do not.

    Matching is case- and width-insensitive. Latin-script keywords match whole words only
    ("acme" matches "#acme", "@acme" and "Acme's" but not "acmecorp"); keywords written in a
    script without spaces (Japanese, Chinese, Korean, Thai) match as substrings.
    """
    folded = normalise_text(text)
    found = []
    for brand in _compiled(tuple(brands)):
        if brand.keywords is None or not brand.keywords.search(folded):
            continue
        if brand.exclude is not None and brand.exclude.search(folded):
            continue
        found.append(brand.name)
    return tuple(found)


def own_brands(author: str, brands: Sequence[BrandView], *, home: str | None = None) -> tuple[str, ...]:
    """Brands that `author` is an own account of (its `handles` for this source)."""
    return _own_brands(author, tuple(brands), home)


@lru_cache(maxsize=4096)  # the same few thousand authors come back poll after poll
def _own_brands(author: str, brands: tuple[BrandView, ...], home: str | None) -> tuple[str, ...]:
    return tuple(
        brand.name for brand in brands if any(same_account(author, h, home=home) for h in brand.handles)
    )
