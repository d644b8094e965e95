"""A loopback fake of Business Profile v4 reviews.list / reviews.get and Google's token endpoint (apis.md §8c)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_reviews import FakeBase, GoogleTokenEndpoint, google_error, page_of, rsa_key_pem

LOCATION = "accounts/123/locations/456"
SCOPE = "https://www.googleapis.com/auth/business.manage"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "client-1.apps.googleusercontent.com", "client-secret-9f8e", "1//refresh-7a6b"


class FakeGoogleBusiness(FakeBase):
    """Serves reviews per location from memory, newest updateTime first, with page tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.reviews: dict[str, list[dict[str, Any]]] = {}
        self.oauth = GoogleTokenEndpoint(client_email="", scope=SCOPE, public_pem=rsa_key_pem()[1],
                                         client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                         refresh_token=REFRESH_TOKEN)

    def add(self, location: str, reviews: list[dict[str, Any]]) -> None:
        """Add reviews to a location (replacing any with the same name, as an edit or a reply would)."""
        names = {r.get("name") for r in reviews}
        kept = [r for r in self.reviews.get(location, []) if r.get("name") not in names]
        self.reviews[location] = kept + copy.deepcopy(reviews)

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self.middleware])
        app.router.add_post("/token", self.oauth.handle)
        app.router.add_get("/v4/accounts/{a}/locations/{l}/reviews", self._list)
        app.router.add_get("/v4/accounts/{a}/locations/{l}/reviews/{r}", self._get)
        return app

    def authorize(self, request: web.Request) -> web.StreamResponse | None:
        """Every API call needs a token issued by the fake token endpoint."""
        if request.path == "/token" or self.oauth.valid(request.headers.get("Authorization")):
            return None
        body = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        return web.Response(status=401, text=body, content_type="application/json")

    async def _list(self, request: web.Request) -> web.Response:
        location = f"accounts/{request.match_info['a']}/locations/{request.match_info['l']}"
        size = min(int(request.query.get("pageSize", 50)), 50)
        offset = int(request.query.get("pageToken", 0))
        items = self.reviews.get(location, [])
        ordered = sorted(items, key=lambda r: r.get("updateTime") or r.get("createTime") or "", reverse=True)
        body: dict[str, Any] = {"averageRating": 4.3 if items else 0, "totalReviewCount": len(items)}
        page = page_of(ordered, offset, size)
        if page:
            body["reviews"] = page
        if offset + size < len(ordered):
            body["nextPageToken"] = str(offset + size)  # absent on the last page
        return web.json_response(body)

    async def _get(self, request: web.Request) -> web.Response:
        name = request.path.removeprefix("/v4/")
        location = name.rsplit("/reviews/", 1)[0]
        for review in self.reviews.get(location, []):
            if review.get("name") == name:
                return web.json_response(copy.deepcopy(review))
        return web.Response(status=404, text=google_error(404, "NOT_FOUND", "Requested entity was not found."),
                            content_type="application/json")
