"""Account identity: whether two spellings of a handle name the same account."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Handle:
    """An account name split into user and (optional) instance domain, both lower-cased."""

    user: str
    domain: str | None


def parse_handle(text: str, *, home: str | None = None) -> Handle:
    """Parse "@User", "user", "@user@instance.social"; a bare name lives on `home` if given."""
    cleaned = text.strip().lstrip("@").casefold()
    user, _, domain = cleaned.partition("@")
    return Handle(user=user, domain=domain or (home.casefold() if home else None))


def same_account(a: str, b: str, *, home: str | None = None) -> bool:
    """Whether two spellings name the same account (case, leading @ and instance normalised).

    A bare name is qualified with `home` (the instance being polled) when it is known; when it
    is not, a bare name matches the same user name on any instance.
    """
    ha, hb = parse_handle(a, home=home), parse_handle(b, home=home)
    if not ha.user or ha.user != hb.user:
        return False
    if ha.domain and hb.domain:
        return ha.domain == hb.domain
    return True
