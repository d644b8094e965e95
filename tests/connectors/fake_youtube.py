"""A loopback fake of YouTube Data API v3 commentThreads/comments (apis.md §9)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

API_KEY = "yt-api-key-AIzaFake123"
ACCESS_TOKEN = "ya29.yt-token-ok"
NO_PERMISSION_TOKEN = "ya29.yt-token-without-the-youtube-scope"


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
        """An API key in the query string, or a bearer token that may read comments."""
        if "Authorization" in request.headers:
            return request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        return request.query.get("key") == API_KEY

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """Google's current answers (googleapis.com JSON errors with google.rpc details).

        A wrong key is 400 with the legacy reason `badRequest` (older keys said `keyInvalid`)
        and ErrorInfo `API_KEY_INVALID`; a valid token that may not read the comments is 403
        `forbidden` (`PERMISSION_DENIED`).
        """
        if request.headers.get("Authorization") == f"Bearer {NO_PERMISSION_TOKEN}":
            message = "The caller does not have permission"
            return web.json_response({"error": {
                "code": 403, "message": message, "status": "PERMISSION_DENIED",
                "errors": [{"message": message, "domain": "global", "reason": "forbidden"}]}}, status=403)
        if "Authorization" in request.headers:
            return web.json_response({"error": {
                "code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED",
                "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                            "location": "Authorization", "locationType": "header"}]}}, status=401)
        message = "API key not valid. Please pass a valid API key."
        return web.json_response({"error": {
            "code": 400, "message": message, "status": "INVALID_ARGUMENT",
            "errors": [{"message": message, "domain": "global", "reason": "badRequest"}],
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                         "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}},
                        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                         "message": message}]}}, status=400)

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
            channel = query.get("allThreadsRelatedToChannelId")
            chosen = [t for t in self.threads if t["snippet"].get("channelId") == channel]
        chosen = sorted(chosen, key=self._published, reverse=True)
        return web.json_response(self._page(request, chosen))

    async def _comments(self, request: web.Request) -> web.Response:
        self.units += 1
        parent = request.query.get("parentId", "")
        thread = next((t for t in self.threads if t["id"] == parent), None)
        replies = (thread or {}).get("replies")
        inline = replies.get("comments", []) if isinstance(replies, dict) else []
        return web.json_response(self._page(request, [*inline, *self.extra_replies.get(parent, [])]))
