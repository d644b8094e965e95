"""A loopback fake of the Bluesky XRPC endpoints the connector uses (apis.md §4)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

HANDLE, APP_PASSWORD = "listener.bsky.social", "app-pass-abcd-efgh"
RESET_EPOCH = 1767607500  # 2026-01-05T10:05:00Z


class FakeBluesky(FakeApi):
    """A PDS that logs in, proxies search/feeds/threads, and rate-limits with RateLimit-* headers."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = load_fixture("bluesky", "posts.json")
        self.sessions = 0
        self.refreshes = 0
        self.access = "access-jwt-1"
        self.remaining = 3000
        self.public = False  # True: behave like the public AppView (search 403 with an HTML page)

    def routes(self, app: web.Application) -> None:
        """Session and read endpoints."""
        app.router.add_post("/xrpc/com.atproto.server.createSession", self._create)
        app.router.add_post("/xrpc/com.atproto.server.refreshSession", self._refresh)
        app.router.add_get("/xrpc/app.bsky.feed.searchPosts", self._search)
        app.router.add_get("/xrpc/app.bsky.feed.getAuthorFeed", self._feed)
        app.router.add_get("/xrpc/app.bsky.feed.getPostThread", self._thread)

    def authorized(self, request: web.Request) -> bool:
        """Reads want the current access JWT (or nothing, on the public AppView)."""
        if "Session" in request.path or self.public:
            return True
        return request.headers.get("Authorization") == f"Bearer {self.access}"

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """XRPC error body."""
        return web.json_response({"error": "AuthenticationRequired", "message": "Authentication Required"}, status=401)

    def rate_headers(self) -> dict[str, str]:
        """RateLimit-* with an epoch-seconds reset."""
        self.remaining = max(0, self.remaining - 1)
        return {"RateLimit-Limit": "3000", "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(RESET_EPOCH), "RateLimit-Policy": "3000;w=300"}

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("identifier") != HANDLE or body.get("password") != APP_PASSWORD:
            return web.json_response({"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                                     status=401)
        self.sessions += 1
        return web.json_response({"accessJwt": self.access, "refreshJwt": "refresh-jwt-1", "handle": HANDLE,
                                  "did": "did:plc:listener000000000000000"})

    async def _refresh(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer refresh-jwt-1":
            return web.json_response({"error": "ExpiredToken", "message": "Token has expired"}, status=400)
        self.refreshes += 1
        self.access = "access-jwt-2"
        return web.json_response({"accessJwt": self.access, "refreshJwt": "refresh-jwt-1", "handle": HANDLE,
                                  "did": "did:plc:listener000000000000000"})

    @staticmethod
    def _sort_at(post: dict[str, Any]) -> str:
        return min(post["record"].get("createdAt") or "9", post.get("indexedAt") or "9")

    def _paged(self, request: web.Request, posts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        ordered = sorted(posts, key=self._sort_at, reverse=True)
        start = int(request.query.get("cursor", "0"))
        limit = int(request.query.get("limit", "25"))
        page = ordered[start:start + limit]
        return copy.deepcopy(page), (str(start + limit) if start + limit < len(ordered) else None)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        if self.public:
            return web.Response(status=403, text="<html><body>Forbidden</body></html>", content_type="text/html")
        term = request.query.get("q", "").casefold()
        since = request.query.get("since", "")
        hits = [p for p in self.posts if term in p["record"].get("text", "").casefold() and self._sort_at(p) >= since]
        page, cursor = self._paged(request, hits)
        body: dict[str, Any] = {"posts": page, "hitsTotal": len(hits)}
        if cursor:
            body["cursor"] = cursor
        return web.json_response(body)

    async def _feed(self, request: web.Request) -> web.Response:
        actor = request.query.get("actor", "")
        own = [p for p in self.posts if actor in (p["author"]["handle"], p["author"]["did"])]
        page, cursor = self._paged(request, own)
        body: dict[str, Any] = {"feed": [{"post": p} for p in page]}
        if cursor:
            body["cursor"] = cursor
        return web.json_response(body)

    async def _thread(self, request: web.Request) -> web.Response:
        uri = request.query.get("uri", "")
        root = next((p for p in self.posts if p["uri"] == uri), None)
        if root is None:
            return web.json_response({"error": "NotFound", "message": f"Post not found: {uri}"}, status=400)

        def view(post: dict[str, Any]) -> dict[str, Any]:
            kids = [
                p for p in self.posts if (p["record"].get("reply") or {}).get("parent", {}).get("uri") == post["uri"]
            ]
            return {"$type": "app.bsky.feed.defs#threadViewPost", "post": copy.deepcopy(post),
                    "replies": [view(k) for k in kids]}

        return web.json_response({"thread": view(root)})
