"""A loopback fake of Freshdesk's API v2 ticket endpoints, answering in Freshdesk's shapes.

`POST /api/v2/tickets` (201; 400 `{"description": "Validation failed", "errors": [...]}`),
`GET /api/v2/tickets?updated_since=…` (a JSON array), `GET /api/v2/tickets/{id}?include=conversations`,
`POST /api/v2/tickets/{id}/notes` (201), `PUT /api/v2/tickets/{id}`; API-key basic auth (401
`invalid_credentials`); 404 with an empty body for a deleted ticket; scripted 429s and outages.
"""

from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.alerts.fake_http import ScriptedFake

API_KEY = "fdKEYsecret0123456789"
_TAGS = re.compile(r"<[^>]*>")


@dataclass
class Ticket:
    """A Freshdesk ticket and its conversations (notes)."""

    id: int
    subject: str
    description: str
    status: int
    priority: int
    tags: list[str]
    requester: str
    group_id: int | None
    updated_at: datetime
    notes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, conversations: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "subject": self.subject, "description": self.description,
            "description_text": _TAGS.sub(" ", self.description), "status": self.status, "priority": self.priority,
            "tags": self.tags, "group_id": self.group_id, "updated_at": self.updated_at.isoformat()}
        if conversations:
            data["conversations"] = self.notes
        return data


def _validation(*errors: tuple[str, str, str]) -> web.Response:
    return web.json_response({"description": "Validation failed", "errors": [
        {"field": f, "message": m, "code": c} for f, m, c in errors]}, status=400)


class FakeFreshdesk(ScriptedFake):
    """Tickets by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[int, Ticket] = {}
        self._ids = itertools.count(1001)

    def app(self) -> web.Application:
        """The aiohttp application serving the ticket endpoints."""
        app = web.Application()
        app.router.add_post("/api/v2/tickets", self._create)
        app.router.add_get("/api/v2/tickets", self._list)
        app.router.add_get(r"/api/v2/tickets/{id:\d+}", self._view)
        app.router.add_put(r"/api/v2/tickets/{id:\d+}", self._update)
        app.router.add_post(r"/api/v2/tickets/{id:\d+}/notes", self._add_note)
        return app

    def tagged(self, tag: str) -> list[Ticket]:
        """Every ticket carrying `tag`."""
        return [t for t in self.tickets.values() if tag in t.tags]

    async def _front(self, request: web.Request) -> tuple[Any, web.Response | None]:
        seen = await self.record(request)
        expected = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return seen.body, web.json_response(
                {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
                status=401)
        return seen.body, self.scripted()

    def _ticket(self, request: web.Request) -> Ticket | None:
        return self.tickets.get(int(request.match_info["id"]))

    async def _create(self, request: web.Request) -> web.Response:
        body, refused = await self._front(request)
        if refused is not None:
            return refused
        if not isinstance(body, dict):
            return _validation(("body", "It should be a JSON object", "invalid_value"))
        errors = []
        if not any(body.get(k) for k in ("requester_id", "email", "facebook_id", "phone", "twitter_id",
                                         "unique_external_id")):
            errors.append(("requester_id", "Please fill at least 1 of requester_id, email, ... fields",
                           "missing_field"))
        if not body.get("description"):
            errors.append(("description", "It should not be blank as this is a mandatory field", "missing_field"))
        if body.get("priority") not in (1, 2, 3, 4):
            errors.append(("priority", "It should be one of these values: '1,2,3,4'", "invalid_value"))
        if any(len(str(tag)) > 32 for tag in body.get("tags") or []):
            errors.append(("tags", "It should not be longer than 32 characters", "invalid_value"))
        if errors:
            return _validation(*errors)
        ticket = Ticket(next(self._ids), str(body.get("subject") or ""), str(body["description"]),
                        int(body.get("status") or 2), int(body["priority"]), list(body.get("tags") or []),
                        str(body.get("email")), body.get("group_id"), datetime.now(UTC))
        self.tickets[ticket.id] = ticket
        return web.json_response(ticket.to_json(), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        _, refused = await self._front(request)
        if refused is not None:
            return refused
        updated_since = request.query.get("updated_since", "1970-01-01T00:00:00Z")
        since = datetime.fromisoformat(updated_since.replace("Z", "+00:00"))
        found = sorted((t for t in self.tickets.values() if t.updated_at >= since), key=lambda t: t.updated_at,
                       reverse=request.query.get("order_type", "desc") == "desc")
        per_page, page = int(request.query.get("per_page", "30")), int(request.query.get("page", "1"))
        return web.json_response([t.to_json() for t in found[(page - 1) * per_page: page * per_page]])

    async def _view(self, request: web.Request) -> web.Response:
        _, refused = await self._front(request)
        if refused is not None:
            return refused
        ticket = self._ticket(request)
        if ticket is None:
            return web.Response(status=404)
        return web.json_response(ticket.to_json(conversations=request.query.get("include") == "conversations"))

    async def _update(self, request: web.Request) -> web.Response:
        body, refused = await self._front(request)
        if refused is not None:
            return refused
        ticket = self._ticket(request)
        if ticket is None:
            return web.Response(status=404)
        if isinstance(body, dict) and "status" in body:
            if body["status"] not in (2, 3, 4, 5):
                return _validation(("status", "It should be one of these values: '2,3,4,5'", "invalid_value"))
            ticket.status = body["status"]
        ticket.updated_at = datetime.now(UTC)
        return web.json_response(ticket.to_json())

    async def _add_note(self, request: web.Request) -> web.Response:
        body, refused = await self._front(request)
        if refused is not None:
            return refused
        ticket = self._ticket(request)
        if ticket is None:
            return web.Response(status=404)
        if not isinstance(body, dict) or not body.get("body"):
            return _validation(("body", "It should not be blank as this is a mandatory field", "missing_field"))
        note = {"id": 5000 + len(ticket.notes), "body": body["body"], "body_text": _TAGS.sub(" ", body["body"]),
                "private": bool(body.get("private", True)), "incoming": False, "ticket_id": ticket.id}
        ticket.notes.append(note)
        ticket.updated_at = datetime.now(UTC)
        return web.json_response(note, status=201)
