"""Render an Event as a Slack message: Block Kit blocks (built and validated by slack_sdk) and fallback text.

Every piece of untrusted text (mention text, author, link, error detail) is cleaned, has `&`, `<`
and `>` escaped as Slack documents, and has `@name` defused, so it can never ping anyone or
forge a link; mrkdwn objects are sent with `verbatim: true` so Slack does not auto-parse either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from alerts._format import (
    clean,
    deadline_text,
    defuse_at,
    human_duration,
    one_line,
    safe_http_url,
    sentiment_text,
    state_text,
    title,
    truncate,
    utc_text,
)
from alerts.base import Event, EventKind

# Block Kit limits (slack_sdk validates the first three; fields are documented at 2000).
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_MAX = 2000
BUTTON_URL_MAX = 3000
BUTTON_VALUE_MAX = 2000
FALLBACK_MAX = 500  # the `text` fallback is shown in notifications; keep it short
URL_MAX = 1000  # longer links are left out rather than cut (a cut URL points elsewhere)

OPEN_ACTION_ID = "listener_open_mention"
# The buttons the interactivity endpoint (listener/interact.py) understands, in display order.
ACTION_BUTTONS: tuple[tuple[str, str, str | None], ...] = (
    ("listener_ack", "Acknowledge", "primary"),
    ("listener_assign", "Assign to me", None),
    ("listener_snooze", "Snooze 30 min", None),
    ("listener_not_complaint", "Not a complaint", "danger"),
    ("listener_replied", "Mark replied", None),
)
# States after which a complaint needs no more buttons.
CLOSED_STATES = frozenset({"replied", "acknowledged", "not_complaint", "marked_replied"})

_EMOJI = {
    EventKind.MENTION: ":speech_balloon:",
    EventKind.WARN: ":large_yellow_circle:",
    EventKind.BREACH: ":red_circle:",
    EventKind.REPLIED: ":white_check_mark:",
    EventKind.SOURCE: ":rotating_light:",
    EventKind.SPIKE: ":chart_with_upwards_trend:",
    EventKind.CRISIS: ":fire:",
    EventKind.VIP: ":star:",
}
LISTENING_KINDS = (EventKind.SPIKE, EventKind.CRISIS, EventKind.VIP)
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A rendered message: the notification fallback and the Block Kit blocks (as dicts)."""

    text: str
    blocks: list[dict[str, Any]]


def escape(text: str | None, limit: int, *, quote_lines: bool = False) -> str:
    """Untrusted text as safe mrkdwn of at most `limit` characters (entities never cut in half).

    With `quote_lines`, every line is prefixed with `> ` (a Slack block quote).
    """
    newline = "\n> " if quote_lines else "\n"
    pieces = [newline if char == "\n" else _ENTITIES.get(char, char) for char in defuse_at(clean(text))]
    if quote_lines:
        pieces.insert(0, "> ")
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    out, size = [], 0
    for piece in pieces:
        if size + len(piece) > limit - 1:  # keep room for the ellipsis
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL that is safe inside `<…>` and in a button, or None when unusable."""
    return safe_http_url(url, URL_MAX)


def _link(url: str) -> str:
    # Inside a link only `&` still needs its entity: `<`, `>` and `|` were percent-encoded.
    return "<" + url.replace("&", "&amp;") + ">"


def _field(label: str, value: str) -> MarkdownTextObject:
    """A field of our own label over untrusted `value`, escaped within what the label leaves."""
    # Escape after budgeting: truncating escaped text could cut an entity such as &amp; in half.
    head = f"*{label}*\n"
    return MarkdownTextObject(text=head + escape(value, FIELD_MAX - len(head)), verbatim=True)


def _header(event: Event) -> HeaderBlock:
    about = one_line(event.brand) or "listener"
    if event.kind == EventKind.SOURCE and event.source:
        about = f"{about} · {one_line(event.source)}" if event.brand else one_line(event.source)
    text = f"{_EMOJI.get(event.kind, '')} {title(event)} · {about}".strip()
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_MAX), emoji=True))


def _fields(event: Event, now: datetime) -> list[MarkdownTextObject]:
    fields = []
    if event.brand:
        fields.append(_field("Brand", one_line(event.brand)))
    if event.source:
        fields.append(_field("Source", one_line(event.source)))
    if event.author:
        fields.append(_field("Author", one_line(event.author)))
    if sentiment := sentiment_text(event):
        fields.append(_field("Sentiment", sentiment))
    if event.mention_at is not None:
        age = human_duration(now - event.mention_at)
        fields.append(_field("Posted", f"{utc_text(event.mention_at)} ({age} ago)"))
    if deadline := deadline_text(event, now):
        fields.append(_field("Deadline", deadline))
    fields.append(_field("State", state_text(event)))
    return fields


def render(event: Event, *, now: datetime, buttons: bool) -> SlackMessage:
    """Build the message for `event` as it should look at `now`.

    Raises slack_sdk's SlackObjectFormationError if a block breaks Block Kit's rules
    (which would be a bug here: every text is cut to its limit first).
    """
    blocks: list[Block] = [_header(event), SectionBlock(fields=_fields(event, now))]
    body = event.detail if event.kind == EventKind.SOURCE else event.text
    if clean(body).strip():
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=escape(body, SECTION_TEXT_MAX, quote_lines=True), verbatim=True))
        )
    url = safe_url(event.url)
    context = []
    if url:
        context.append(MarkdownTextObject(text=_link(url), verbatim=True))
    explain = event.policy.explain if event.policy else ""
    if explain:
        context.append(MarkdownTextObject(text=escape(f"Deadline: {explain}", FIELD_MAX), verbatim=True))
    context.append(MarkdownTextObject(text=escape(f"event {event.id}", FIELD_MAX), verbatim=True))
    blocks.append(ContextBlock(elements=context))
    value = event.mention_key if 0 < len(event.mention_key) <= BUTTON_VALUE_MAX else None
    elements: list[ButtonElement] = []
    if buttons and value and _actionable(event):
        for action_id, label, style in ACTION_BUTTONS:
            elements.append(
                ButtonElement(text=PlainTextObject(text=label, emoji=False), action_id=action_id, value=value,
                              style=style)
            )
    if buttons and url and len(url) <= BUTTON_URL_MAX:
        elements.append(
            ButtonElement(text=PlainTextObject(text="Open post", emoji=False), url=url, action_id=OPEN_ACTION_ID,
                          value=value)
        )
    if elements:
        blocks.append(ActionsBlock(elements=elements))
    return SlackMessage(text=fallback_text(event), blocks=[block.to_dict() for block in blocks])


def _actionable(event: Event) -> bool:
    """Whether the complaint is still open to Acknowledge / Snooze / Mark replied."""
    # Listening alerts are about a mention, not a clock: the buttons would have nothing to act on.
    if event.kind in (EventKind.REPLIED, EventKind.SOURCE, EventKind.MENTION, *LISTENING_KINDS):
        return False
    # A dismissal ("Not a complaint") closes the clock: its ACTION event says so (`closed`).
    return event.state not in CLOSED_STATES and not event.closed


def fallback_text(event: Event) -> str:
    """One escaped line for notifications and clients that cannot show blocks."""
    head = f"{title(event)} · {one_line(event.brand or event.source)}"
    parts = [one_line(event.author), one_line(event.detail if event.kind == EventKind.SOURCE else event.text)]
    tail = ": ".join(part for part in parts if part)
    line = f"{head} · {state_text(event)}" + (f" · {tail}" if tail else "")
    return escape(line, FALLBACK_MAX)


DIGEST_SHOWN = 20  # alerts listed one per line; the rest are counted
_REASONS = {"quiet_hours": "held during quiet hours", "rate_limit": "over the channel's rate limit"}


def _digest_line(event: Event) -> str:
    """One escaped line for an alert in a digest: what, brand, author, text and link."""
    parts = [title(event), one_line(event.brand or event.source), one_line(event.author)]
    head = " · ".join(part for part in parts if part)
    body = one_line(event.detail if event.kind == EventKind.SOURCE else event.text)
    line = escape(f"{head}: {body}" if body else head, 280)
    url = safe_url(event.url)
    return f"• {line}" + (f" {_link(url)}" if url else "")


def render_digest(events: list[Event] | tuple[Event, ...], reasons: tuple[str, ...] | list[str], *, now: datetime,
                  digest_id: str) -> SlackMessage:
    """One message for alerts that were held back (quiet hours) or over a channel's rate limit.

    Raises slack_sdk's SlackObjectFormationError if a block breaks Block Kit's rules.
    """
    why = " and ".join(_REASONS.get(r, r.replace("_", " ")) for r in reasons) or "held back"
    count = len(events)
    head = f":package: {count} alert{'s' if count != 1 else ''} {why}"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(head, HEADER_MAX), emoji=True))]
    lines = [_digest_line(e) for e in events[:DIGEST_SHOWN]]
    if count > DIGEST_SHOWN:
        lines.append(f"… and {count - DIGEST_SHOWN} more")
    section: list[str] = []
    for line in lines:  # sections of at most SECTION_TEXT_MAX characters, lines never cut
        if section and sum(len(x) + 1 for x in section) + len(line) > SECTION_TEXT_MAX:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(section), verbatim=True)))
            section = []
        section.append(line)
    if section:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(section), verbatim=True)))
    blocks.append(ContextBlock(elements=[
        MarkdownTextObject(text=escape(f"{digest_id} · sent {utc_text(now)}", FIELD_MAX), verbatim=True)]))
    kinds = sorted({title(e) for e in events})
    text = escape(f"{count} alert{'s' if count != 1 else ''} {why}: " + ", ".join(kinds), FALLBACK_MAX)
    return SlackMessage(text=text, blocks=[block.to_dict() for block in blocks])
