"""Decides whether a text can be judged at all (empty, no words, unsupported language) and detects its language."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# ISO 639-1 codes of the ~100 CC-100 languages that XLM-R (and so multilingual-e5) was pretrained on,
# restricted to codes py3langid can emit.
SUPPORTED_LANGUAGES = frozenset(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr ga gl gu he hi hr hu hy id "
    "is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms nb ne nl nn no or pa pl ps pt ro ru "
    "si sk sl sq sr sv sw ta te th tl tr ug uk ur vi xh zh".split()
)
# Below this confidence an "unsupported" verdict on a short text is more likely noise than fact.
_UNSUPPORTED_MIN_CONFIDENCE = 0.9

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")

EMPTY = "empty"
NO_TEXT = "no_text"
UNSUPPORTED_LANGUAGE = "unsupported_language"


@dataclass(frozen=True, slots=True)
class TextCheck:
    """Outcome of the check: the detected language, and why the text is unscored (None = score it)."""

    language: str | None
    unscored_reason: str | None


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def strip_noise(text: str) -> str:
    """The text without URLs and @mentions (what is left to judge)."""
    return _MENTION.sub(" ", _URL.sub(" ", text)).strip()


def has_words(text: str) -> bool:
    """True when some character is a letter (emoji, digits and punctuation alone are not words)."""
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def detect_language(text: str) -> tuple[str, float]:
    """py3langid's best language and its normalised probability."""
    lang, prob = _identifier().classify(text)
    return str(lang), float(prob)


def check_text(text: str) -> TextCheck:
    """Classify a text as judgeable or not, and detect its language."""
    if not text or not text.strip():
        return TextCheck(None, EMPTY)
    rest = strip_noise(text)
    if not has_words(rest):
        return TextCheck(None, NO_TEXT)
    lang, prob = detect_language(rest)
    if lang not in SUPPORTED_LANGUAGES and prob >= _UNSUPPORTED_MIN_CONFIDENCE:
        return TextCheck(lang, UNSUPPORTED_LANGUAGE)
    return TextCheck(lang, None)
