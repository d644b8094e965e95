"""Identity beyond ids: canonical URLs and text fingerprints find the same post seen twice."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_|igshid$|ref$|ref_src$|s$|t$)")
_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@[\w.@-]+")
# Below this many characters two texts match too easily to call them one post.
MIN_FINGERPRINT_CHARS = 40


def canonical_url(url: str) -> str:
    """The URL with scheme/host lower-cased, no fragment, no tracking parameters, no trailing slash."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", parts.netloc.lower().removeprefix("www."), path, query, ""))


def author_key(author: str) -> str:
    """The account's bare user name, comparable across platforms ("@ann@x.social", "ann.bsky.social")."""
    name = author.strip().lstrip("@").casefold()
    return name.split("@", 1)[0].split(".", 1)[0]


def fingerprint(text: str, author: str) -> str:
    """Same author, same words: a hash of the text without links, @handles, case or spacing.

    Two different people posting the same words are two customers, so the author is part of
    it; '' when the text is too short to call two copies one post.
    """
    normal = unicodedata.normalize("NFKC", text).casefold()
    normal = _HANDLE.sub(" ", _URL.sub(" ", normal)).replace("#", " ")
    normal = " ".join(normal.split())
    if len(normal) < MIN_FINGERPRINT_CHARS:
        return ""
    data = f"{author_key(author)}\x1f{normal}"
    return hashlib.blake2b(data.encode("utf-8"), digest_size=12).hexdigest()
