"""A loopback fake of the Reddit API (token endpoint, listings, comment trees; apis.md §2)."""

from __future__ import annotations

import base64
import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

CLIENT_ID, CLIENT_SECRET, ACCESS_TOKEN = "reddit-client-id", "reddit-client-secret-77", "reddit-access-abc123"


def fixture_things(name: str) -> list[dict[str, Any]]:
    """The `data` of every child of a fixture Listing."""
    return [child["data"] for child in load_fixture("reddit", name)["data"]["children"]]


class FakeReddit(FakeApi):
    """Posts and comments in memory, served newest first with `after` paging."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = fixture_things("search.json")
        self.comments: list[dict[str, Any]] = fixture_things("comments.json")
        self.remaining = 600.0
        self.reset = 117
        self.tokens_issued = 0
        self.password = "hunter2-pw"

    def routes(self, app: web.Application) -> None:
        """Token endpoint plus the listings the connector reads (with and without .json)."""
        app.router.add_post("/api/v1/access_token", self._token)
        for suffix in ("", ".json"):
            app.router.add_get("/search" + suffix, self._search)
            app.router.add_get("/r/{subs}/search" + suffix, self._search)
            app.router.add_get("/r/{sub}/comments" + suffix, self._sub_comments)
            app.router.add_get("/user/{name}/comments" + suffix, self._user_comments)
            app.router.add_get("/comments/{id}" + suffix, self._tree)

    def authorized(self, request: web.Request) -> bool:
        """Listings want `bearer <token>`; the token endpoint checks Basic auth itself."""
        if request.path.startswith("/api/v1/access_token") or request.path.endswith(".json"):
            return True
        return request.headers.get("Authorization") == f"bearer {ACCESS_TOKEN}"

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """Reddit's 401 body."""
        return web.json_response({"message": "Unauthorized", "error": 401}, status=401)

    def rate_headers(self) -> dict[str, str]:
        """Float remaining, integer used, reset as seconds left in the window."""
        self.remaining = max(0.0, self.remaining - 1)
        return {"x-ratelimit-remaining": f"{self.remaining:.1f}", "x-ratelimit-used": str(int(600 - self.remaining)),
                "x-ratelimit-reset": str(self.reset)}

    async def _token(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        form = await request.post()
        if form.get("grant_type") == "password" and form.get("password") != self.password:
            return web.json_response({"error": "invalid_grant"})  # sic: HTTP 200
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600, "scope": "*"}
        )

    def _listing(self, request: web.Request, things: list[dict[str, Any]], kind: str) -> web.Response:
        ordered = sorted(things, key=lambda t: t.get("created_utc") or 0, reverse=True)
        after = request.query.get("after")
        if after:
            names = [t["name"] for t in ordered]
            ordered = ordered[names.index(after) + 1 :] if after in names else []
        limit = int(request.query.get("limit", "25"))
        page = ordered[:limit]
        more = len(ordered) > limit
        return web.json_response({"kind": "Listing", "data": {
            "after": page[-1]["name"] if more and page else None, "dist": len(page), "modhash": None, "before": None,
            "children": [{"kind": kind, "data": copy.deepcopy(t)} for t in page]}})

    async def _search(self, request: web.Request) -> web.Response:
        term = request.query.get("q", "").casefold()
        subs = request.match_info.get("subs", "").removesuffix(".json")
        restricted = subs and request.query.get("restrict_sr") == "true"
        wanted = {s.casefold() for s in subs.split("+")} if restricted else None
        hits = [p for p in self.posts if term in (p.get("title", "") + " " + p.get("selftext", "")).casefold()
                and (wanted is None or p.get("subreddit", "").casefold() in wanted)]
        return self._listing(request, hits, "t3")

    async def _sub_comments(self, request: web.Request) -> web.Response:
        sub = request.match_info["sub"].casefold()
        return self._listing(request, [c for c in self.comments if c.get("subreddit", "").casefold() == sub], "t1")

    async def _user_comments(self, request: web.Request) -> web.Response:
        name = request.match_info["name"].removesuffix(".json").casefold()
        return self._listing(request, [c for c in self.comments if str(c.get("author")).casefold() == name], "t1")

    async def _tree(self, request: web.Request) -> web.Response:
        post_id = "t3_" + request.match_info["id"].removesuffix(".json")
        post = next((p for p in self.posts if p["name"] == post_id), None)
        if post is None:
            return web.json_response({"message": "Not Found", "error": 404}, status=404)

        def children(parent: str) -> dict[str, Any] | str:
            kids = [c for c in self.comments if c.get("parent_id") == parent]
            if not kids:
                return ""  # Reddit sends "" for "no replies"
            return {"kind": "Listing", "data": {"after": None, "before": None, "children": [
                {"kind": "t1", "data": {**copy.deepcopy(c), "replies": children(c["name"])}} for c in kids]}}

        tree = children(post_id)
        comments = tree if isinstance(tree, dict) else {"kind": "Listing", "data": {"children": []}}
        return web.json_response([
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": copy.deepcopy(post)}]}}, comments,
        ])
