"""A loopback fake of the Discourse endpoints the connector uses (apis.md §10b)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

API_KEY = "discourse-key-0f0f0f"


class FakeDiscourse(FakeApi):
    """Posts in memory: /posts.json (newest first, `before`), /search.json, topics and their posts."""

    def __init__(self, *, page_size: int = 50, chunk: int = 20) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = load_fixture("discourse", "posts.json")["latest_posts"]
        self.page_size = page_size
        self.chunk = chunk  # posts inlined in a topic's post_stream
        self.require_key = False

    def routes(self, app: web.Application) -> None:
        """The read endpoints."""
        app.router.add_get("/posts.json", self._latest)
        app.router.add_get("/search.json", self._search)
        app.router.add_get("/t/{topic}.json", self._topic)
        app.router.add_get("/t/{topic}/posts.json", self._topic_posts)

    def authorized(self, request: web.Request) -> bool:
        """Api-Key + Api-Username headers when the forum is private."""
        if not self.require_key:
            return True
        return request.headers.get("Api-Key") == API_KEY and request.headers.get("Api-Username") == "system"

    def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """Discourse's error body."""
        return web.json_response({"errors": ["You are not permitted to view the requested resource."],
                                  "error_type": "invalid_access"}, status=403)

    async def _latest(self, request: web.Request) -> web.Response:
        ordered = sorted(self.posts, key=lambda p: p["id"], reverse=True)
        if "before" in request.query:
            ordered = [p for p in ordered if p["id"] < int(request.query["before"])]
        return web.json_response({"latest_posts": copy.deepcopy(ordered[: self.page_size])})

    async def _search(self, request: web.Request) -> web.Response:
        term = request.query.get("q", "").replace("order:latest", "").strip().casefold()
        hits = sorted((p for p in self.posts if term in (p["cooked"] + p.get("topic_title", "")).casefold()),
                      key=lambda p: p["id"], reverse=True)
        page = int(request.query.get("page", "1"))
        chunk = hits[(page - 1) * self.page_size: page * self.page_size]
        fields = ("id", "name", "username", "avatar_template", "created_at", "post_number", "topic_id")
        posts = [{k: p.get(k) for k in fields} | {"blurb": p["cooked"].replace("<p>", "").replace("</p>", "")}
                 for p in chunk]
        topics = {p["topic_id"]: {"id": p["topic_id"], "title": p["topic_title"], "slug": p["topic_slug"]}
                  for p in chunk}
        # /search is a full-page search (SearchController#show: type_filter "topic"), so
        # GroupedSearchResults#add flips `more_full_page_results` when a page overflows and never
        # sets `more_posts` (that is the header search, /search/query); unset flags serialize as null.
        more = True if len(hits) > page * self.page_size else None
        return web.json_response({"posts": posts, "topics": list(topics.values()), "users": [], "categories": [],
                                  "tags": [], "groups": [],
                                  "grouped_search_result": {"more_posts": None, "more_users": None,
                                                            "more_categories": None, "term": request.query.get("q", ""),
                                                            "search_log_id": 7, "more_full_page_results": more,
                                                            "can_create_topic": False, "error": None, "extra": {},
                                                            "post_ids": [p["id"] for p in chunk], "user_ids": [],
                                                            "category_ids": [], "tag_ids": [], "group_ids": []}})

    def _in_topic(self, topic: str) -> list[dict[str, Any]]:
        return sorted((p for p in self.posts if str(p["topic_id"]) == topic), key=lambda p: p["post_number"])

    async def _topic(self, request: web.Request) -> web.Response:
        posts = self._in_topic(request.match_info["topic"])
        if not posts:
            return web.json_response({"errors": ["The requested URL or resource could not be found."],
                                      "error_type": "not_found"}, status=404)
        trimmed = [{k: v for k, v in p.items() if k not in ("topic_slug", "topic_title", "topic_id")} for p in posts]
        return web.json_response({"id": int(request.match_info["topic"]), "title": posts[0]["topic_title"],
                                  "post_stream": {"posts": copy.deepcopy(trimmed[: self.chunk]),
                                                  "stream": [p["id"] for p in posts]}})

    async def _topic_posts(self, request: web.Request) -> web.Response:
        wanted = {int(i) for i in request.query.getall("post_ids[]", [])}
        posts = [p for p in self._in_topic(request.match_info["topic"]) if p["id"] in wanted]
        return web.json_response({"post_stream": {"posts": copy.deepcopy(posts)}})
