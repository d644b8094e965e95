"""A loopback fake of the Mastodon API endpoints the connector uses (shapes per apis.md §3)."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, MultiMapping

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mastodon"


def load_fixture(name: str) -> Any:
    """A copy of a JSON fixture from tests/fixtures/mastodon/."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _order(value: str) -> tuple[int, str]:
    return (len(value), value)


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDict[str]


@dataclass
class Scripted:
    """A canned answer for the next request to a path prefix (failures, odd bodies, delays)."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_headers: float = 0.0  # before anything is sent
    delay_body: float = 0.0  # after the headers, before the body


class FakeMastodon:
    """Serves statuses and notifications from memory with Mastodon's paging rules."""

    def __init__(self, *, token: str | None = None, now: datetime | None = None) -> None:
        self.token = token
        self.now = now  # for X-RateLimit-Reset; None: no rate-limit headers
        self.statuses: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.script: list[tuple[str, Scripted]] = []
        self.remaining = 300

    def add_statuses(self, statuses: list[dict[str, Any]]) -> None:
        """Add statuses to the instance's database."""
        self.statuses.extend(copy.deepcopy(statuses))

    def fail_next(self, path_prefix: str, answer: Scripted) -> None:
        """Answer the next request under `path_prefix` with `answer` instead of real data."""
        self.script.append((path_prefix, answer))

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/v2/search", self._search)
        app.router.add_get("/api/v1/timelines/tag/{tag}", self._tag)
        app.router.add_get("/api/v1/notifications", self._notifications)
        app.router.add_get("/api/v1/statuses/{id}/context", self._context)
        return app

    # -- plumbing -------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(Recorded(request.method, request.path, request.query, CIMultiDict(request.headers)))
        for index, (prefix, answer) in enumerate(self.script):
            if request.path.startswith(prefix):
                del self.script[index]
                return await self._scripted(request, answer)
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "The access token is invalid"}, status=401)
        response = await handler(request)
        self._rate_headers(response)
        return response

    def _rate_headers(self, response: web.StreamResponse) -> None:
        if self.now is None:
            return
        self.remaining = max(0, self.remaining - 1)
        reset = (self.now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        response.headers.update(
            {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(self.remaining), "X-RateLimit-Reset": reset}
        )

    async def _scripted(self, request: web.Request, answer: Scripted) -> web.StreamResponse:
        if answer.delay_headers:
            await asyncio.sleep(answer.delay_headers)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        response.content_type = "application/json"
        body = answer.body.encode()
        response.content_length = len(body)
        await response.prepare(request)
        if answer.delay_body:
            await response.write(body[:1])
            await asyncio.sleep(answer.delay_body)
            body = body[1:]
        await response.write(body)
        await response.write_eof()
        return response

    def _page(self, items: list[dict[str, Any]], request: web.Request, default: int, cap: int) -> list[dict[str, Any]]:
        """Mastodon's id paging: max_id upper bound, since_id newest above, min_id forward from."""
        query = request.query
        limit = min(int(query.get("limit", default)), cap)
        ordered = sorted(items, key=lambda i: _order(i["id"]), reverse=True)  # newest first
        if "max_id" in query:
            ordered = [i for i in ordered if _order(i["id"]) < _order(query["max_id"])]
        if "min_id" in query:
            newer = [i for i in ordered if _order(i["id"]) > _order(query["min_id"])]
            return newer[-limit:]  # the oldest `limit` above min_id, still newest first
        if "since_id" in query:
            ordered = [i for i in ordered if _order(i["id"]) > _order(query["since_id"])]
        return ordered[:limit]

    def _with_links(self, request: web.Request, page: list[dict[str, Any]]) -> web.Response:
        response = web.json_response(page)
        if page:  # the tag controller omits Link on empty pages
            base = f"{request.scheme}://{request.host}{request.path}"
            response.headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}>; rel="next", <{base}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return response

    # -- endpoints ------------------------------------------------------------------------

    async def _search(self, request: web.Request) -> web.Response:
        term = request.query.get("q", "").casefold()
        if request.query.get("type") not in (None, "statuses"):
            return web.json_response({"accounts": [], "statuses": [], "hashtags": []})
        hits = [s for s in self.statuses if term and term in (s.get("content") or "").casefold()]
        return web.json_response({"accounts": [], "statuses": self._page(hits, request, 20, 40), "hashtags": []})

    async def _tag(self, request: web.Request) -> web.Response:
        tag = request.match_info["tag"].casefold()
        tagged = [s for s in self.statuses if any(t["name"].casefold() == tag for t in s.get("tags") or ())]
        if not tagged:
            return web.json_response({"error": "Record not found"}, status=404)
        return self._with_links(request, self._page(tagged, request, 20, 40))

    async def _notifications(self, request: web.Request) -> web.Response:
        types = request.query.getall("types[]", [])
        items = [n for n in self.notifications if not types or n["type"] in types]
        return self._with_links(request, self._page(items, request, 40, 80))

    async def _context(self, request: web.Request) -> web.Response:
        root = request.match_info["id"]
        if not any(s["id"] == root for s in self.statuses):
            return web.json_response({"error": "Record not found"}, status=404)
        descendants, frontier = [], {root}
        for status in sorted(self.statuses, key=lambda s: _order(s["id"])):
            if status.get("in_reply_to_id") in frontier:
                descendants.append(status)
                frontier.add(status["id"])
        return web.json_response({"ancestors": [], "descendants": descendants})
