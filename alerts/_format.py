"""Presentation helpers shared by the sinks: text cleaning, truncation, titles and durations."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote, urlsplit

from alerts.base import Event, EventKind
from listener.timefmt import human_duration  # the sinks import it from here

ELLIPSIS = "…"

# Bidirectional overrides/isolates can make a message read differently from what it says
# ("Trojan Source"); marks U+200E/U+200F are harmless and kept.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; newline stays. One regex pass
# instead of a per-character category lookup: every alert cleans a dozen strings.
_DROPPED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f" + "".join(sorted(_BIDI_CONTROLS)) + "]")

TITLES: dict[EventKind, str] = {
    EventKind.MENTION: "New mention",
    EventKind.WARN: "Complaint nearing its deadline",
    EventKind.BREACH: "Response deadline missed",
    EventKind.REPLIED: "Complaint answered",
    EventKind.ESCALATE: "Complaint escalated",
    EventKind.ACTION: "Complaint updated",
    EventKind.SOURCE: "Source problem",
    EventKind.SPIKE: "Mention spike",
    EventKind.CRISIS: "Crisis keyword",
    EventKind.VIP: "VIP or high-reach author",
}


def clean(text: str | None) -> str:
    """Return `text` without control characters, bidi overrides or lone surrogates.

    Newlines and tabs survive (tabs as spaces); `\\r\\n` and lone `\\r` become `\\n`.
    """
    if not text:
        return ""
    # Lone surrogates cannot be encoded as UTF-8 and would break JSON consumers.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _DROPPED.sub("", text)


def one_line(text: str | None) -> str:
    """`clean(text)` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(clean(text).split())


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1] + ELLIPSIS


def utc_text(when: datetime) -> str:
    """`2026-01-05 09:00 UTC` (the sinks show UTC so every reader sees the same time)."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def title(event: Event) -> str:
    """What the event announces, in a few words."""
    return TITLES.get(event.kind, event.kind.value)


def deadline_text(event: Event, now: datetime) -> str:
    """`10:00 UTC (in 13m)` / `(12m overdue)`, or empty when the event has no deadline."""
    if event.deadline is None:
        return ""
    if event.kind == EventKind.REPLIED:
        return utc_text(event.deadline)
    left = event.deadline - now
    relation = f"in {human_duration(left)}" if left.total_seconds() >= 0 else f"{human_duration(-left)} overdue"
    return f"{utc_text(event.deadline)} ({relation})"


def state_text(event: Event) -> str:
    """The complaint's state in words, with the response time once it was answered."""
    if event.kind == EventKind.REPLIED and event.response_seconds is not None:
        spoken = f"replied after {human_duration(event.response_seconds)}"
        if event.mention_at is not None and event.deadline is not None:
            target = (event.deadline - event.mention_at).total_seconds()
            late = event.response_seconds - target
            spoken += " (within target)" if late <= 0 else f" ({human_duration(late)} late)"
        return spoken
    if event.state:
        return one_line(event.state)
    return {EventKind.WARN: "warning", EventKind.BREACH: "breached", EventKind.REPLIED: "replied"}.get(
        event.kind, event.kind.value
    )


def sentiment_text(event: Event) -> str:
    """`negative (complaint 93%)`, or empty when unclassified."""
    parts = []
    if event.sentiment:
        parts.append(one_line(event.sentiment))
    if event.p_complaint is not None:
        parts.append(f"(complaint {event.p_complaint:.0%})")
    return " ".join(parts)


_WORD_AFTER_AT = re.compile(r"@(?=\w)")


def defuse_at(text: str) -> str:
    """Put a WORD JOINER after every `@name`, so `@channel`/`@here`/`@user` never notify.

    Slack only pings for `<!here>`-style sequences (which escaping removes), but Slack-compatible
    servers and `link_names` turn plain `@name` into mentions, so it is defused as well.
    """
    return _WORD_AFTER_AT.sub("@\u2060", text)


# Characters kept as they are in a link; everything else (`|`, `<`, `>`, spaces, quotes, non-ASCII)
# is percent-encoded so the link cannot end early, break out of an attribute or show another label.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def safe_http_url(url: str | None, limit: int = 1000) -> str | None:
    """An http(s) URL, percent-encoded where unsafe, or None (other schemes, too long: a cut URL points elsewhere)."""
    text = one_line(url)
    if not text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    quoted = quote(text, safe=_URL_SAFE)
    return quoted if len(quoted) <= limit else None


def facts(event: Event, now: datetime) -> list[tuple[str, str]]:
    """The label/value pairs the rich sinks show (Teams, e-mail, tickets), cleaned to one line each.

    Values are untrusted (authors, states written by people, error details): each sink escapes them.
    """
    pairs: list[tuple[str, str]] = [("Brand", event.brand), ("Source", event.source), ("Author", event.author)]
    policy = event.policy_name
    if policy is not None:
        pairs.append(("Policy", policy))
    pairs.append(("Sentiment", sentiment_text(event)))
    if event.mention_at is not None:
        age = "" if event.kind == EventKind.REPLIED else f" ({human_duration(now - event.mention_at)} ago)"
        pairs.append(("Posted", utc_text(event.mention_at) + age))
    pairs.append(("Deadline", deadline_text(event, now)))
    pairs.append(("State", state_text(event)))
    if event.kind == EventKind.SOURCE and event.detail:
        pairs.append(("Detail", event.detail))
    return [(label, truncate(one_line(value), 300)) for label, value in pairs if one_line(value)]


def body_text(event: Event) -> str:
    """The text an alert quotes: the mention, or the error detail of a source alert (cleaned, newlines kept)."""
    return clean(event.detail if event.kind == EventKind.SOURCE else event.text).strip()
