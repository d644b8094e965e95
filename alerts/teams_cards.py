"""Render an Event as a Microsoft Teams message holding one Adaptive Card (for a Workflows webhook).

Adaptive Card `TextBlock`s and `FactSet`s interpret Markdown (bold, links, lists), so text we did not
write never goes into one: only our own fixed titles and labels do. Every untrusted value (mention
text, author, brand, state, error detail) is a `TextRun` inside a `RichTextBlock`, which the schema
defines as plain text without Markdown. It is also cleaned of control and bidi characters and has
`@name` defused (no `<at>` mention can form: we never send `msteams.entities`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alerts._format import body_text, defuse_at, facts, one_line, safe_http_url, title, truncate, utc_text
from alerts.base import Event, EventKind

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"  # RichTextBlock needs 1.2; 1.4 is what Teams renders everywhere (desktop, web, mobile)
TEXT_MAX = 2000
HISTORY_SHOWN = 8
DIGEST_SHOWN = 20

_COLOURS = {
    EventKind.WARN: "Warning",
    EventKind.BREACH: "Attention",
    EventKind.ESCALATE: "Attention",
    EventKind.CRISIS: "Attention",
    EventKind.SOURCE: "Attention",
    EventKind.REPLIED: "Good",
}
_REASONS = {"quiet_hours": "held during quiet hours", "rate_limit": "over the channel's rate limit"}


def plain(text: str | None, limit: int = TEXT_MAX) -> str:
    """Untrusted text for a TextRun: cleaned, `@name` defused, cut to `limit`."""
    return truncate(defuse_at(one_line(text)), limit)


def _runs(*parts: tuple[str, bool]) -> dict[str, Any]:
    """A RichTextBlock of TextRuns; each part is (text, bold). TextRuns never interpret Markdown."""
    inlines = [
        {"type": "TextRun", "text": text, **({"weight": "Bolder"} if bold else {})} for text, bold in parts if text
    ]
    return {"type": "RichTextBlock", "inlines": inlines, "spacing": "None"}


def _header(text: str, kind: EventKind | None) -> dict[str, Any]:
    """Our own fixed title (never untrusted text: a TextBlock renders Markdown)."""
    colour = _COLOURS.get(kind, "Default") if kind is not None else "Accent"
    return {"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium", "wrap": True, "color": colour}


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION, "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    attachment = {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": content}
    return {"type": "message", "attachments": [attachment]}


def render(event: Event, *, now: datetime, history: Sequence[str] = ()) -> dict[str, Any]:
    """The message for `event` as it looks at `now`; `history` lists the case's earlier states (oldest first)."""
    body: list[dict[str, Any]] = [_header(title(event), event.kind)]
    for label, value in facts(event, now):
        body.append(_runs((f"{label}: ", True), (plain(value, 300), False)))
    quoted = body_text(event)
    if quoted:
        body.append({"type": "Container", "style": "emphasis", "spacing": "Medium",
                     "items": [{"type": "RichTextBlock", "inlines": [
                         {"type": "TextRun", "text": truncate(defuse_at(quoted), TEXT_MAX), "italic": True}]}]})
    if history:
        shown = list(history)[-HISTORY_SHOWN:]
        body.append({**_runs(("Earlier in this case: ", True), (plain(" · ".join(shown), 600), False)),
                     "spacing": "Medium"})
    body.append(_runs((plain(f"event {event.id}", 300), False)) | {"spacing": "Small"})
    url = safe_http_url(event.url)
    actions = [{"type": "Action.OpenUrl", "title": "Open post", "url": url}] if url else []
    return _card(body, actions)


def history_entry(event: Event) -> str:
    """How an event is remembered on later cards: `Breach 10:00 UTC`."""
    return f"{event.kind.value.capitalize()} {utc_text(event.created_at)[11:]}"


def render_digest(events: Sequence[Event], reasons: Sequence[str], *, now: datetime, digest_id: str) -> dict[str, Any]:
    """One card listing alerts that noise controls held back, one line each."""
    why = ", ".join(_REASONS.get(r, r.replace("_", " ")) for r in reasons) or "held back"
    count = len(events)
    body: list[dict[str, Any]] = [_header(f"{count} alert{'s' if count != 1 else ''} {why}", None)]
    for event in events[:DIGEST_SHOWN]:
        who = plain(event.author, 80)
        line = plain(body_text(event), 200)
        body.append(_runs((f"{title(event)} · ", True), (plain(event.brand or event.source, 80), False),
                          (f" · {who}" if who else "", False), (f": {line}" if line else "", False)))
    if count > DIGEST_SHOWN:
        body.append(_runs((f"…and {count - DIGEST_SHOWN} more", False)))
    body.append(_runs((plain(f"digest {digest_id} · {utc_text(now)}", 300), False)))
    return _card(body, [])
