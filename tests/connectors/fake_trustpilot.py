"""A loopback fake of the Trustpilot business-unit reviews API (apis.md §8d: mostly UNCONFIRMED).

The unconfirmed parts are switchable, so the connector is tested against each variant:
`send_links` (a `links[{rel: "next-page"}]` list, or no links at all).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_reviews import FakeBase

UNIT = "46d6a890000064000500e0c3"
API_KEY = "tp-key-5c4d3e2f1a"
ACCESS_TOKEN = "tp-oauth-9a8b7c6d"


class FakeTrustpilot(FakeBase):
    """Serves reviews newest first with page/perPage, public (apikey) and private (bearer) paths."""

    def __init__(self, *, send_links: bool = True) -> None:
        super().__init__()
        self.reviews: list[dict[str, Any]] = []
        self.send_links = send_links

    def add(self, reviews: list[dict[str, Any]]) -> None:
        """Add reviews (replacing any with the same id, as an edit or a reply would)."""
        ids = {r.get("id") for r in reviews}
        self.reviews = [r for r in self.reviews if r.get("id") not in ids] + copy.deepcopy(reviews)

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self.middleware])
        app.router.add_get("/v1/business-units/{unit}/reviews", self._list)
        app.router.add_get("/v1/private/business-units/{unit}/reviews", self._list)
        app.router.add_get("/v1/reviews/{id}", self._get)
        return app

    def authorize(self, request: web.Request) -> web.StreamResponse | None:
        """Every call needs the API key; the private path also a bearer token."""
        if request.query.get("apikey") != API_KEY:
            return web.json_response({"message": "Invalid ApiKey", "errorCode": 401}, status=401)
        if "/private/" in request.path and request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return web.json_response({"message": "Unauthorized", "errorCode": 401}, status=401)
        return None

    async def _list(self, request: web.Request) -> web.Response:
        if request.match_info["unit"] != UNIT:
            return web.json_response({"message": "Business unit not found"}, status=404)
        page = int(request.query.get("page", 1))
        per_page = int(request.query.get("perPage", 20))
        ordered = sorted(self.reviews, key=lambda r: str(r.get("createdAt")), reverse=True)
        chunk = copy.deepcopy(ordered[(page - 1) * per_page : page * per_page])
        body: dict[str, Any] = {"reviews": chunk}
        if self.send_links:
            links = []
            if page * per_page < len(ordered):
                href = str(request.url.update_query(page=str(page + 1)))
                links.append({"href": href, "method": "GET", "rel": "next-page"})
            body["links"] = links
        return web.json_response(body)

    async def _get(self, request: web.Request) -> web.Response:
        for review in self.reviews:
            if review.get("id") == request.match_info["id"]:
                return web.json_response(copy.deepcopy(review))
        return web.json_response({"message": "Review not found"}, status=404)
