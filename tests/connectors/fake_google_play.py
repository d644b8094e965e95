"""A loopback fake of androidpublisher v3 reviews.list / reviews.get and Google's token endpoint (apis.md §7)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.connectors.fake_reviews import FakeBase, GoogleTokenEndpoint, google_error, page_of, rsa_key_pem

PACKAGE = "com.acme.app"
CLIENT_EMAIL = "listener@acme-play.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
PREFIX = f"/androidpublisher/v3/applications/{PACKAGE}/reviews"


def modified(review: dict[str, Any]) -> int:
    """Seconds of a review's userComment.lastModified (the list's sort key)."""
    for comment in review.get("comments") or ():
        if "userComment" in comment:
            seconds = str(comment["userComment"].get("lastModified", {}).get("seconds", "0"))
            return int(seconds) if seconds.isdigit() else 0  # a broken record sorts last
    return 0


class FakeGooglePlay(FakeBase):
    """Serves reviews from memory, newest change first, 10 per page by default, with page tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.reviews: list[dict[str, Any]] = []
        self.oauth = GoogleTokenEndpoint(client_email=CLIENT_EMAIL, scope=SCOPE, public_pem=rsa_key_pem()[1])

    def add(self, reviews: list[dict[str, Any]]) -> None:
        """Add reviews (replacing any with the same reviewId, as an edit would)."""
        ids = {r["reviewId"] for r in reviews}
        self.reviews = [r for r in self.reviews if r["reviewId"] not in ids] + copy.deepcopy(reviews)

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self.middleware])
        app.router.add_post("/token", self.oauth.handle)
        app.router.add_get(PREFIX, self._list)
        app.router.add_get(PREFIX + "/{review_id}", self._get)
        return app

    def authorize(self, request: web.Request) -> web.StreamResponse | None:
        """Every API call needs a token issued by the fake token endpoint."""
        if request.path == "/token" or self.oauth.valid(request.headers.get("Authorization")):
            return None
        body = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        return web.Response(status=401, text=body, content_type="application/json")

    async def _list(self, request: web.Request) -> web.Response:
        size = min(int(request.query.get("maxResults", 10)), 100)
        offset = int(request.query.get("token", 0))
        ordered = sorted(self.reviews, key=modified, reverse=True)
        body: dict[str, Any] = {}
        page = page_of(ordered, offset, size)
        if page:  # an empty result is an empty object
            body["reviews"] = page
        if offset + size < len(ordered):
            body["tokenPagination"] = {"nextPageToken": str(offset + size)}
        return web.json_response(body)

    async def _get(self, request: web.Request) -> web.Response:
        wanted = request.match_info["review_id"]
        for review in self.reviews:
            if review["reviewId"] == wanted:
                return web.json_response(copy.deepcopy(review))
        return web.Response(status=404, text=google_error(404, "NOT_FOUND", "Review not found."),
                            content_type="application/json")
