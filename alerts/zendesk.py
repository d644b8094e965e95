"""Zendesk sink: one ticket per complaint case, a private note per later event, solved when the brand replies.

The ticket carries `external_id = "listener:<case id>"`. Before creating one the sink looks the case up
by that id, so a create repeated after a crash (or after a timeout that hid a success) finds the
ticket made the first time instead of opening a second. Each note ends with `listener event <id>`;
before adding a note the sink reads the ticket's newest comments and skips a note already there.
Notes are sent as `html_body` built with every untrusted value escaped (Zendesk never parses them
as Markdown), and they are private (`public: false`): the customer never sees them.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar
from urllib.parse import quote

from alerts._format import one_line, truncate
from alerts._helpdesk import HelpdeskSink, marker, note_html
from alerts._http import Answer, raise_for
from alerts.base import Event, EventKind
from alerts.mail_render import subject as mail_subject
from config.sinks import ZendeskSettings
from listener.errors import SinkError

SUBJECT_MAX = 150


def external_id(case: str) -> str:
    """The ticket's external id for a case."""
    return f"listener:{case}"


class ZendeskSink(HelpdeskSink[ZendeskSettings]):
    """Create, annotate and solve one Zendesk ticket per complaint case (API token authentication)."""

    name: ClassVar[str] = "zendesk"

    def setup(self) -> None:
        """API root and Basic credentials (the kinds that open a ticket come from HelpdeskSink)."""
        super().setup()
        assert self._settings.api_token is not None  # validated by the settings
        self._root = self._settings.root
        # API token authentication: basic auth as "{email}/token:{api_token}".
        pair = f"{self._settings.email}/token:{self._settings.api_token.get_secret_value()}".encode()
        self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")

    async def _find(self, event: Event) -> tuple[int | None, bool]:
        """The case's newest ticket that can still be updated (not closed), by external_id."""
        url = f"{self._root}/api/v2/tickets.json?external_id={quote(external_id(event.thread), safe='')}"
        data = await self._call("GET", url, f"zendesk: look-up of {event.thread}")
        tickets = data.get("tickets") if isinstance(data, dict) else None
        open_ = [t for t in tickets or [] if isinstance(t, dict) and t.get("status") != "closed"
                 and isinstance(t.get("id"), int)]
        if not open_:
            return None, False
        newest = max(open_, key=lambda t: t["id"])
        return newest["id"], newest.get("status") == "solved"

    async def _create(self, event: Event) -> int:
        s = self._settings
        ticket: dict[str, Any] = {
            "subject": truncate(mail_subject(event, ""), SUBJECT_MAX),
            "comment": {"html_body": self._html(event), "public": False},
            "external_id": external_id(event.thread),
            "tags": [*s.tags, f"listener_{event.kind.value}"],
        }
        if s.priority:
            ticket["priority"] = s.priority
        if s.group_id is not None:
            ticket["group_id"] = s.group_id
        data = await self._call("POST", f"{self._root}/api/v2/tickets.json", f"zendesk: ticket for {event.id}",
                                {"ticket": ticket})
        created = data.get("ticket") if isinstance(data, dict) else None
        if not isinstance(created, dict) or not isinstance(created.get("id"), int):
            raise SinkError(f"zendesk: ticket for {event.id}: answer without a ticket id")
        return int(created["id"])

    async def _note(self, ticket: int, event: Event, *, reopen: bool) -> bool:
        """Add the event's note (unless already there); False when the ticket no longer exists or is closed."""
        what = f"zendesk: note on ticket {ticket} for {event.id}"
        comments = await self._call(
            "GET", f"{self._root}/api/v2/tickets/{ticket}/comments.json?sort_order=desc", what, missing_ok=True)
        if comments is None:
            return False
        for comment in comments.get("comments", []) if isinstance(comments, dict) else []:
            if isinstance(comment, dict) and marker(event) in str(comment.get("html_body") or comment.get("body")):
                return True  # added before a crash: not again
        update: dict[str, Any] = {"comment": {"html_body": self._html(event), "public": False}}
        if event.kind is EventKind.REPLIED:
            update["status"] = "solved"
        elif reopen:
            update["status"] = "open"  # the case reopened after the ticket was solved
        answer = await self._call("PUT", f"{self._root}/api/v2/tickets/{ticket}.json", what, {"ticket": update},
                                  missing_ok=True, closed_ok=True)
        return answer is not None

    def _html(self, event: Event) -> str:
        return note_html(event, self._clock.now())

    async def _call(self, method: str, url: str, what: str, document: Any = None, *, missing_ok: bool = False,
                    closed_ok: bool = False) -> Any:
        """One API call; None for a 404 (and a 422 on a closed ticket) when the caller can handle it."""
        answer = await self._json(method, url, what, document)
        if missing_ok and answer.status == 404:
            return None
        if closed_ok and answer.status == 422 and "closed" in _problem(answer).lower():
            return None
        if answer.status == 409:  # two writes to one ticket at once (an agent, a trigger): try again
            raise SinkError(f"{what}: HTTP 409 {_problem(answer)}".strip())
        raise_for(answer, what, self._clock.now(), detail=_problem(answer))
        return answer.data


def _problem(answer: Answer) -> str:
    """Zendesk's `{"error", "description", "details"}` in one line (it may quote our input)."""
    data = answer.data
    if not isinstance(data, dict):
        return one_line(answer.text)[:200] if answer.status >= 400 else ""
    error = data.get("error")
    if isinstance(error, dict):  # some endpoints nest it: {"error": {"title", "message"}}
        error = f"{error.get('title', '')} {error.get('message', '')}"
    parts = [str(error or ""), str(data.get("description") or "")]
    details = data.get("details")
    if isinstance(details, dict):
        parts += [f"{field}: {d.get('description', '')}" for field, items in details.items()
                  for d in (items if isinstance(items, list) else []) if isinstance(d, dict)]
    return "; ".join(p.strip() for p in parts if p and p.strip())
