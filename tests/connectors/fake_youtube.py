"""A loopback fake of YouTube Data API v3 commentThreads/comments (apis.md §9)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

API_KEY = "yt-api-key-AIzaFake123"


def google_error(status: int, reason: str, message: str, domain: str = "youtube.commentThread") -> web.Response:
    """Google's error body: {"error": {"code", "message", "errors": [{"reason", "domain", "message"}]}}."""
    return web.json_response({"error": {"code": status, "message": message,
                                        "errors": [{"message": message, "domain": domain, "reason": reason}]}},
                             status=status)


class FakeYouTube(FakeApi):
    """Threads in memory, newest first (order=time), with pageToken paging and id lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[dict[str, Any]] = load_fixture("youtube", "threads.json")["items"]
        self.extra_replies: dict[str, list[dict[str, Any]]] = {}  # thread id -> replies not inlined
        self.units = 0

    def routes(self, app: web.Application) -> None:
        """commentThreads.list and comments.list."""
        app.router.add_get("/youtube/v3/commentThreads", self._threads)
        app.router.add_get("/youtube/v3/comments", self._comments)

    def authorized(self, request: web.Request) -> bool:
        """An API key in the query string."""
        return request.query.get("key") == API_KEY

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """Google answers a bad key with 400 keyInvalid."""
        return google_error(400, "keyInvalid", "API key not valid. Please pass a valid API key.", "usageLimits")

    @staticmethod
    def _published(thread: dict[str, Any]) -> str:
        return str(thread["snippet"].get("topLevelComment", {}).get("snippet", {}).get("publishedAt") or "")

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> dict[str, Any]:
        start = int(request.query.get("pageToken", "0") or 0)
        size = int(request.query.get("maxResults", "20"))
        body: dict[str, Any] = {"kind": "youtube#commentThreadListResponse", "etag": "x",
                                "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
                                "items": copy.deepcopy(items[start:start + size])}
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body

    async def _threads(self, request: web.Request) -> web.Response:
        self.units += 1
        query = request.query
        if "id" in query:
            wanted = query["id"].split(",")
            return web.json_response({"kind": "youtube#commentThreadListResponse", "etag": "x",
                                      "items": copy.deepcopy([t for t in self.threads if t["id"] in wanted])})
        if "videoId" in query:
            chosen = [t for t in self.threads if t["snippet"].get("videoId") == query["videoId"]]
            if not chosen and query["videoId"] == "disabled":
                return google_error(403, "commentsDisabled", "The video has disabled comments.")
        else:
            chosen = [t for t in self.threads if t["snippet"].get("channelId") == query.get("allThreadsRelatedToChannelId")]
        chosen = sorted(chosen, key=self._published, reverse=True)
        return web.json_response(self._page(request, chosen))

    async def _comments(self, request: web.Request) -> web.Response:
        self.units += 1
        parent = request.query.get("parentId", "")
        thread = next((t for t in self.threads if t["id"] == parent), None)
        inline = (thread or {}).get("replies", {}).get("comments", [])
        return web.json_response(self._page(request, [*inline, *self.extra_replies.get(parent, [])]))
