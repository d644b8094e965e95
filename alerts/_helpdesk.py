"""What the help-desk sinks (Zendesk, Freshdesk) share: the ticket life cycle, the note's HTML, its marker, the ref."""

from __future__ import annotations

import html
import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from alerts._format import title
from alerts._http import Answer, request
from alerts.base import Event, EventKind, HttpSettings, HttpSink
from alerts.mail_render import html_fragment

_SOLVED = ":solved"
NOTE_KINDS = frozenset({"breach", "escalate", "action", "replied"})


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


class HelpdeskSettings(HttpSettings, Protocol):
    """What a help-desk sink's settings have besides the timeout: the event kinds that open a ticket."""

    @property
    def create_on(self) -> Sequence[str]:
        """Event kinds (`warn`, `breach`, `escalate`) that open a ticket."""
        ...


HelpdeskSettingsT = TypeVar("HelpdeskSettingsT", bound=HelpdeskSettings)


class HelpdeskSink(HttpSink[HelpdeskSettingsT]):
    """One ticket per complaint case: found or created once, a private note per later event, solved on the reply.

    Subclasses say how their help desk finds a case's ticket, creates one and adds a note; the
    life cycle (which events open or annotate a ticket, the delivery ref) is the same for all.
    """

    name: ClassVar[str]
    _authorization: str  # the `Authorization` header value, set by the subclass's `setup`

    def setup(self) -> None:
        """The event kinds that open a ticket (`create_on` in the settings)."""
        self._create_on = frozenset(self._settings.create_on)

    def accepts(self, event: Event) -> bool:
        """Complaint events that open the ticket or annotate it; never source health or listening alerts."""
        if not event.thread or event.kind in (EventKind.SOURCE, EventKind.MENTION):
            return False
        if event.kind is EventKind.REPLIED and not event.alerted:
            return False
        return event.kind.value in self._create_on or event.kind.value in NOTE_KINDS

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Open the case's ticket, or add a note to it (solving it on a reply). Returns `<ticket id>[:solved]`."""
        ticket, solved = parse_ref(previous_ref)
        if ticket is None:
            ticket, solved = await self._find(event)
        if ticket is not None and await self._note(ticket, event, reopen=solved):
            return ticket_ref(ticket, solved=event.kind is EventKind.REPLIED)
        # No ticket, or it is gone (deleted, closed for good): open one if this kind opens tickets.
        if event.kind.value not in self._create_on:
            return None  # nothing to annotate (yet)
        return str(await self._create(event))


    async def _json(self, method: str, url: str, what: str, document: Any = None) -> Answer:
        """One call to the help desk's JSON API with its credentials; what the status means is the caller's."""
        body = json.dumps(document, ensure_ascii=False).encode("utf-8", "replace") if document is not None else None
        headers = {"Authorization": self._authorization}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await request(self._session, method, url, what=what, timeout=self._timeout, body=body, headers=headers)

    @abstractmethod
    async def _find(self, event: Event) -> tuple[int | None, bool]:
        """(the case's ticket that can still be updated, whether it is solved), or (None, False)."""

    @abstractmethod
    async def _create(self, event: Event) -> int:
        """Open the case's ticket; its id."""

    @abstractmethod
    async def _note(self, ticket: int, event: Event, *, reopen: bool) -> bool:
        """Add the event's note (once) and set the status; False when the ticket cannot take it any more."""
