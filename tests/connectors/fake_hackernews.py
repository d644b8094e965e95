"""A loopback fake of the Algolia Hacker News API (search_by_date and items; apis.md §5)."""

from __future__ import annotations

import copy
import re
from typing import Any

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture


def _when(hit: dict[str, Any]) -> int:
    value = hit.get("created_at_i")
    return value if isinstance(value, int) else 2**40  # odd values sort first, as if brand new


class FakeHackerNews(FakeApi):
    """Hits in memory, newest first, with tags, numericFilters and page/hitsPerPage."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[dict[str, Any]] = load_fixture("hackernews", "search_by_date.json")["hits"]
        self.items: dict[str, dict[str, Any]] = {"41000100": load_fixture("hackernews", "item.json")}

    def routes(self, app: web.Application) -> None:
        """The two endpoints the connector reads."""
        app.router.add_get("/api/v1/search_by_date", self._search)
        app.router.add_get("/api/v1/items/{id}", self._item)

    @staticmethod
    def _tagged(hit: dict[str, Any], tags: str) -> bool:
        # Comma-separated tags are ANDed; a parenthesised group is ORed.
        for group in re.findall(r"\([^)]*\)|[^,()]+", tags):
            options = group.strip("()").split(",")
            if not any(opt.strip() in hit.get("_tags", ()) for opt in options if opt.strip()):
                return False
        return True

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").casefold()
        floor = 0
        match = re.fullmatch(r"created_at_i>=(\d+)", request.query.get("numericFilters", ""))
        if match:
            floor = int(match.group(1))
        found = [h for h in self.hits if self._tagged(h, request.query.get("tags", ""))
                 and query in " ".join(str(h.get(k) or "") for k in ("title", "story_text", "comment_text")).casefold()
                 and _when(h) >= floor]
        found.sort(key=_when, reverse=True)
        per_page = int(request.query.get("hitsPerPage", "20"))
        page = int(request.query.get("page", "0"))
        pages = max(1, -(-len(found) // per_page))
        return web.json_response({"hits": copy.deepcopy(found[page * per_page:(page + 1) * per_page]), "page": page,
                                  "nbHits": len(found), "nbPages": pages, "hitsPerPage": per_page,
                                  "processingTimeMS": 1, "query": query, "params": request.query_string})

    async def _item(self, request: web.Request) -> web.Response:
        item = self.items.get(request.match_info["id"])
        if item is None:
            return web.json_response({"status": 404, "error": "Not Found"}, status=404)
        return web.json_response(item)
