"""Freshdesk sink: one ticket per complaint case, a private note per later event, resolved when the brand replies.

Freshdesk tickets have no external id, so each case's ticket carries the tag `listener_<hash of the
case id>`. Before creating one, the sink lists the tickets updated since the event was queued
(`GET /api/v2/tickets?updated_since=`, read from the database, not the lagging search index): a
ticket made for this event before a crash was updated after that, so a repeat finds it instead of
opening a second. Notes are private (`POST /api/v2/tickets/{id}/notes`), HTML with every untrusted
value escaped, and end with `listener event <id>`; a note already on the ticket is not added again.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from alerts._format import one_line, truncate
from alerts._helpdesk import HelpdeskSink, marker, note_html
from alerts._http import Answer, raise_for
from alerts.base import Event, EventKind
from alerts.mail_render import subject as mail_subject
from config.sinks import FreshdeskSettings
from listener.errors import SinkError

OPEN, RESOLVED, CLOSED = 2, 4, 5
SUBJECT_MAX = 150
PAGES = 5  # tickets updated since the event: 100 a page; a crash leaves its ticket among the newest
# Clocks differ between us and Freshdesk: look a little further back than the event's own time.
SKEW = timedelta(minutes=10)


def case_tag(case: str) -> str:
    """The tag that marks a case's ticket (Freshdesk tags are at most 32 characters)."""
    return "listener_" + hashlib.sha256(case.encode("utf-8", "replace")).hexdigest()[:20]


class FreshdeskSink(HelpdeskSink[FreshdeskSettings]):
    """Create, annotate and resolve one Freshdesk ticket per complaint case (API key authentication)."""

    name: ClassVar[str] = "freshdesk"

    def setup(self) -> None:
        """API root and Basic credentials (the kinds that open a ticket come from HelpdeskSink)."""
        super().setup()
        assert self._settings.api_key is not None  # validated by the settings
        self._root = self._settings.root + "/api/v2"
        # The API key is the user name; the password is any placeholder ("X", as Freshdesk documents).
        pair = f"{self._settings.api_key.get_secret_value()}:X".encode()
        self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")

    async def _find(self, event: Event) -> tuple[int | None, bool]:
        """The case's newest ticket updated since the event was queued and not closed, by its tag."""
        tag = case_tag(event.thread)
        since = quote((event.created_at - SKEW).strftime("%Y-%m-%dT%H:%M:%SZ"), safe="")
        for page in range(1, PAGES + 1):
            url = (f"{self._root}/tickets?updated_since={since}&order_by=updated_at&order_type=desc"
                   f"&per_page=100&page={page}")
            tickets = await self._call("GET", url, f"freshdesk: look-up of {event.thread}")
            if not isinstance(tickets, list):
                return None, False
            mine = [t for t in tickets if isinstance(t, dict) and tag in (t.get("tags") or [])
                    and t.get("status") != CLOSED and isinstance(t.get("id"), int)]
            if mine:
                newest = max(mine, key=lambda t: t["id"])
                return newest["id"], newest.get("status") == RESOLVED
            if len(tickets) < 100:
                break
        return None, False

    async def _create(self, event: Event) -> int:
        s = self._settings
        ticket: dict[str, Any] = {
            "subject": truncate(mail_subject(event, ""), SUBJECT_MAX),
            "description": note_html(event, self._clock.now()),
            "email": s.requester_email,
            "status": OPEN,
            "priority": s.priority,
            "tags": [*s.tags, case_tag(event.thread), f"listener_{event.kind.value}"],
        }
        if s.group_id is not None:
            ticket["group_id"] = s.group_id
        data = await self._call("POST", f"{self._root}/tickets", f"freshdesk: ticket for {event.id}", ticket)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise SinkError(f"freshdesk: ticket for {event.id}: answer without a ticket id")
        return int(data["id"])

    async def _note(self, ticket: int, event: Event, *, reopen: bool) -> bool:
        """Add the event's private note (unless there already) and set the status; False if the ticket is gone."""
        what = f"freshdesk: note on ticket {ticket} for {event.id}"
        found = await self._call("GET", f"{self._root}/tickets/{ticket}?include=conversations", what, missing_ok=True)
        if not isinstance(found, dict) or found.get("status") == CLOSED:
            return False
        bodies = [found.get("description")] + [c.get("body") for c in found.get("conversations") or []
                                                 if isinstance(c, dict)]
        if not any(marker(event) in str(b) for b in bodies):
            note = {"body": note_html(event, self._clock.now()), "private": True}
            if await self._call("POST", f"{self._root}/tickets/{ticket}/notes", what, note, missing_ok=True) is None:
                return False
        status = self._settings.solved_status if event.kind is EventKind.REPLIED else (OPEN if reopen else None)
        if status is not None and found.get("status") != status:
            await self._call("PUT", f"{self._root}/tickets/{ticket}", what, {"status": status}, missing_ok=True)
        return True

    async def _call(self, method: str, url: str, what: str, document: Any = None, *, missing_ok: bool = False) -> Any:
        """One API call; None for a 404 when the caller can handle a ticket that is gone."""
        answer = await self._json(method, url, what, document)
        if missing_ok and answer.status == 404:
            return None
        raise_for(answer, what, self._clock.now(), detail=_problem(answer))
        return answer.data


def _problem(answer: Answer) -> str:
    """Freshdesk's `{"description", "errors": [{"field", "message", "code"}]}` or `{"code", "message"}`."""
    data = answer.data
    if not isinstance(data, dict):
        return one_line(answer.text)[:200] if answer.status >= 400 else ""
    parts = [str(data.get("code") or ""), str(data.get("message") or ""), str(data.get("description") or "")]
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            parts.append(f"{error.get('field', '')}: {error.get('message', '')} ({error.get('code', '')})")
    return "; ".join(p.strip() for p in parts if p and p.strip())
