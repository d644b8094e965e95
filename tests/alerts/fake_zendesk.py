"""A loopback fake of the Zendesk Support API's ticket endpoints, answering in Zendesk's shapes.

`POST /api/v2/tickets.json` (201), `GET /api/v2/tickets.json?external_id=` (list), `PUT
/api/v2/tickets/{id}.json` (200; 404 RecordNotFound; 422 RecordInvalid on a closed ticket),
`GET /api/v2/tickets/{id}/comments.json`; API-token basic auth (401 "Couldn't authenticate you");
429 with Retry-After and outages when scripted.
"""

from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.alerts.fake_http import ScriptedFake

EMAIL = "bot@acme.example"
TOKEN = "zdTOKENsecret0123456789"
_TAGS = re.compile(r"<[^>]*>")


@dataclass
class Ticket:
    """A ticket and its comments (html bodies), oldest first."""

    id: int
    subject: str
    external_id: str | None
    status: str
    priority: str | None
    tags: list[str]
    group_id: int | None
    comments: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": f"https://acme.zendesk.com/api/v2/tickets/{self.id}.json",
                "subject": self.subject, "external_id": self.external_id, "status": self.status,
                "priority": self.priority, "tags": self.tags, "group_id": self.group_id}


def _not_found() -> web.Response:
    return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)


def _invalid(field_name: str, description: str) -> web.Response:
    return web.json_response({"error": "RecordInvalid", "description": "Record validation errors",
                              "details": {field_name: [{"description": description}]}}, status=422)


class FakeZendesk(ScriptedFake):
    """Tickets by id; `problems` lists requests a real Zendesk would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[int, Ticket] = {}
        self._ids = itertools.count(35436)

    def app(self) -> web.Application:
        """The aiohttp application serving the ticket endpoints."""
        app = web.Application()
        app.router.add_post("/api/v2/tickets.json", self._create)
        app.router.add_get("/api/v2/tickets.json", self._list)
        app.router.add_put(r"/api/v2/tickets/{id:\d+}.json", self._update)
        app.router.add_get(r"/api/v2/tickets/{id:\d+}/comments.json", self._comments)
        return app

    def by_external_id(self, external_id: str) -> list[Ticket]:
        """Every ticket with this external id."""
        return [t for t in self.tickets.values() if t.external_id == external_id]

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _front(self, request: web.Request) -> tuple[Any, web.Response | None]:
        seen = await self.record(request)
        if not self._authorised(request):
            return seen.body, web.json_response({"error": "Couldn't authenticate you"}, status=401)
        return seen.body, self.scripted()

    @staticmethod
    def _comment(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict) or not (value.get("body") or value.get("html_body")):
            return None
        html_body = value.get("html_body") or f"<p>{value.get('body')}</p>"
        return {"type": "Comment", "html_body": html_body, "body": _TAGS.sub(" ", html_body),
                "public": bool(value.get("public", True))}

    async def _create(self, request: web.Request) -> web.Response:
        body, refused = await self._front(request)
        if refused is not None:
            return refused
        ticket = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket, dict):
            return web.json_response({"error": "InvalidEndpoint", "description": "ticket is required"}, status=400)
        comment = self._comment(ticket.get("comment"))
        if comment is None:
            return _invalid("description", "Description: cannot be blank")
        if ticket.get("priority") not in (None, "low", "normal", "high", "urgent"):
            return _invalid("priority", "Priority: is not valid")
        created = Ticket(next(self._ids), str(ticket.get("subject") or ""), ticket.get("external_id"), "new",
                         ticket.get("priority"), list(ticket.get("tags") or []), ticket.get("group_id"), [comment])
        self.tickets[created.id] = created
        return web.json_response({"ticket": created.to_json()}, status=201)

    async def _list(self, request: web.Request) -> web.Response:
        _, refused = await self._front(request)
        if refused is not None:
            return refused
        wanted = request.query.get("external_id")
        found = [t.to_json() for t in self.tickets.values() if wanted is None or t.external_id == wanted]
        return web.json_response({"tickets": found, "count": len(found), "next_page": None, "previous_page": None})

    async def _update(self, request: web.Request) -> web.Response:
        body, refused = await self._front(request)
        if refused is not None:
            return refused
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return _not_found()
        if ticket.status == "closed":
            return _invalid("status", "Status: closed prevents ticket update")
        update = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(update, dict):
            return web.json_response({"error": "InvalidEndpoint", "description": "ticket is required"}, status=400)
        if "comment" in update:
            comment = self._comment(update["comment"])
            if comment is None:
                return _invalid("comment", "Comment: cannot be blank")
            ticket.comments.append(comment)
        if "status" in update:
            if update["status"] not in ("new", "open", "pending", "hold", "solved", "closed"):
                return _invalid("status", "Status: is not valid")
            ticket.status = update["status"]
        elif ticket.status == "new":
            ticket.status = "open"
        return web.json_response({"ticket": ticket.to_json(), "audit": {"events": []}})

    async def _comments(self, request: web.Request) -> web.Response:
        _, refused = await self._front(request)
        if refused is not None:
            return refused
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return _not_found()
        comments = list(ticket.comments)
        if request.query.get("sort_order") == "desc":
            comments.reverse()
        numbered = [{"id": 9000 + n, **c} for n, c in enumerate(comments)]
        return web.json_response({"comments": numbered, "next_page": None, "previous_page": None,
                                  "count": len(numbered)})
