"""A loopback fake of LinkedIn's Community Management API (/rest/posts, /rest/socialActions/{urn}/comments)."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

TOKEN = "AQXfakeLinkedInToken"
VERSIONS = {"202511", "202510", "202601"}  # versions this fake still serves


def li_error(status: int, code: str, message: str, service: int = 0) -> web.Response:
    """LinkedIn's error body: {"status", "serviceErrorCode", "code", "message"}."""
    return web.json_response({"status": status, "serviceErrorCode": service, "code": code, "message": message},
                             status=status)


class FakeLinkedIn(FakeApi):
    """Posts by author and comments by URN (top-level on a post URN, nested on a comment URN), start/count paging."""

    def __init__(self) -> None:
        super().__init__()
        data = load_fixture("linkedin", "api.json")
        self.posts: dict[str, list[dict[str, Any]]] = data["posts"]
        self.comments: dict[str, list[dict[str, Any]]] = data["comments"]
        self.raw_paths: list[str] = []

    def routes(self, app: web.Application) -> None:
        """The two endpoints the connector reads."""
        app.router.add_get("/rest/posts", self._posts)
        app.router.add_get("/rest/socialActions/{urn}/comments", self._comments)

    def authorized(self, request: web.Request) -> bool:
        """A bearer token."""
        self.raw_paths.append(request.raw_path)
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """LinkedIn's answer to an expired or revoked token."""
        return li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)

    def _versioned(self, request: web.Request) -> web.Response | None:
        version = request.headers.get("LinkedIn-Version")
        if version is None:
            return li_error(426, "VERSION_MISSING", "A version must be present. Please specify a version by adding "
                                                    "the LinkedIn-Version header.")
        if version not in VERSIONS:
            return li_error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return li_error(400, "ILLEGAL_ARGUMENT", "Rest.li protocol 2.0.0 expected")
        return None

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        start, count = int(request.query.get("start", "0")), int(request.query.get("count", "10"))
        chunk = items[start:start + count]
        links = []
        if start + count < len(items):
            links.append({"type": "application/json", "rel": "next",
                          "href": f"{request.path}?start={start + count}&count={count}"})
        return web.json_response({"paging": {"start": start, "count": count, "total": len(items), "links": links},
                                  "elements": copy.deepcopy(chunk)})

    async def _posts(self, request: web.Request) -> web.Response:
        refused = self._versioned(request)
        if refused is not None:
            return refused
        if request.query.get("q") != "author":
            return li_error(400, "ILLEGAL_ARGUMENT", "q=author expected")
        return self._page(request, self.posts.get(request.query.get("author", ""), []))

    async def _comments(self, request: web.Request) -> web.Response:
        refused = self._versioned(request)
        if refused is not None:
            return refused
        urn = unquote(request.match_info["urn"])
        if urn not in self.comments:
            return li_error(404, "NOT_FOUND", f"Not found: {urn}")
        return self._page(request, self.comments[urn])
