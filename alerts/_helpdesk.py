"""What the help-desk sinks (Zendesk, Freshdesk) share: the note's HTML, its marker, and the ref format."""

from __future__ import annotations

import html
from datetime import datetime

from alerts._format import title
from alerts.base import Event
from alerts.mail_render import html_fragment

_SOLVED = ":solved"


def marker(event: Event) -> str:
    """The line that ends every note (how a note already added is recognised after a crash)."""
    return f"listener event {event.id}"


def note_html(event: Event, now: datetime) -> str:
    """A ticket comment or note: the title, the facts, the quote, the link and the marker, all escaped."""
    heading = f"<p><strong>{html.escape(title(event))}</strong></p>"
    return heading + html_fragment(event, now) + f"<p>{html.escape(marker(event))}</p>"


def ticket_ref(ticket: int, *, solved: bool) -> str:
    """The delivery ref: the ticket id, with `:solved` once the brand replied."""
    return f"{ticket}{_SOLVED if solved else ''}"


def parse_ref(ref: str | None) -> tuple[int | None, bool]:
    """(ticket id, solved) from a ref, or (None, False)."""
    text = (ref or "").removesuffix(_SOLVED)
    return (int(text), bool(ref and ref.endswith(_SOLVED))) if text.isdigit() else (None, False)
