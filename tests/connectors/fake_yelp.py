"""A loopback fake of Yelp Fusion business reviews (apis.md §8a): three excerpts, RateLimit-* headers."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from tests.connectors.fake_reviews import FakeBase

API_KEY = "yelp-key-0f1e2d3c4b"


class FakeYelp(FakeBase):
    """Serves up to three reviews per business (in Yelp's own order) and counts down a daily budget."""

    def __init__(self, *, now: datetime, daily_limit: int = 300) -> None:
        super().__init__()
        self.reviews: dict[str, list[dict[str, Any]]] = {}
        self.now = now
        self.daily_limit = daily_limit
        self.remaining = daily_limit

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self.middleware])
        app.router.add_get("/v3/businesses/{business}/reviews", self._reviews)
        return app

    def authorize(self, request: web.Request) -> web.StreamResponse | None:
        """Fusion wants the API key as a bearer token."""
        if request.headers.get("Authorization") == f"Bearer {API_KEY}":
            return None
        return web.json_response({"error": {"code": "TOKEN_INVALID", "description": "Invalid access token"}},
                                 status=401)

    def reset_time(self) -> str:
        """The next midnight UTC, written as Yelp does (ISO-8601 with +00:00)."""
        midnight = (self.now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.isoformat()

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every answer carries the daily budget and its reset time."""
        self.remaining = max(0, self.remaining - 1)
        response.headers.update({
            "RateLimit-DailyLimit": str(self.daily_limit), "RateLimit-Remaining": str(self.remaining),
            "RateLimit-ResetTime": self.reset_time(),
        })

    async def _reviews(self, request: web.Request) -> web.Response:
        business = request.match_info["business"]
        if business not in self.reviews:
            return web.json_response({"error": {"code": "BUSINESS_NOT_FOUND",
                                                "description": "The requested business could not be found."}},
                                     status=404)
        items = self.reviews[business][:3]
        return web.json_response({"reviews": copy.deepcopy(items), "total": len(self.reviews[business]),
                                  "possible_languages": ["en"]})
