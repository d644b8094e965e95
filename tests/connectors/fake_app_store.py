"""Loopback fakes of App Store Connect customer reviews (ES256 JWT) and the public reviews feed (apis.md §6)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from tests.connectors.fake_reviews import FakeBase, ec_key_pem

APP_ID = "682658836"
ISSUER_ID, KEY_ID = "57246542-96fe-1a63-e053-0824d011072a", "2X9R4HXF34"


def asc_error(status: int, code: str, title: str) -> str:
    """An App Store Connect error body."""
    return json.dumps({"errors": [{"id": "e-1", "status": str(status), "code": code, "title": title,
                                   "detail": title}]})


def _created(review: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(review["attributes"]["createdDate"])
    except (KeyError, ValueError):
        return datetime(1970, 1, 1, tzinfo=UTC)  # a broken record sorts last


class FakeAppStoreConnect(FakeBase):
    """Serves customer reviews newest first with opaque cursors, `include=response`, and X-Rate-Limit."""

    def __init__(self, *, hour_limit: int = 3500) -> None:
        super().__init__()
        self.reviews: list[dict[str, Any]] = []
        self.responses: dict[str, dict[str, Any]] = {}  # review id -> customerReviewResponses resource
        self.hour_limit = hour_limit
        self.remaining = hour_limit
        self.no_response = "404"  # how "no response" looks: "404" or "null" (UNCONFIRMED)
        self.tokens: list[dict[str, Any]] = []

    def add(self, reviews: list[dict[str, Any]], included: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        """Add reviews (without their relationships) and the responses linked to them."""
        for review in copy.deepcopy(reviews):
            linked = review.pop("relationships", {}).get("response", {}).get("data")
            self.reviews.append(review)
            for item in included:
                if linked and item["id"] == linked["id"]:
                    self.responses[review["id"]] = copy.deepcopy(item)

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self.middleware])
        app.router.add_get("/v1/apps/{app}/customerReviews", self._list)
        app.router.add_get("/v1/customerReviews/{id}/response", self._response)
        return app

    def authorize(self, request: web.Request) -> web.StreamResponse | None:
        """Check the ES256 bearer token the way Apple describes it."""
        header = request.headers.get("Authorization", "")
        try:
            token = header.removeprefix("Bearer ")
            claims = jwt.decode(token, ec_key_pem()[1], algorithms=["ES256"], audience="appstoreconnect-v1",
                                options={"verify_exp": False, "verify_iat": False})  # the connector's clock is fake
            head = jwt.get_unverified_header(token)
            ok = (head.get("kid") == KEY_ID and head.get("typ") == "JWT" and claims.get("iss") == ISSUER_ID
                  and 0 < claims["exp"] - claims["iat"] <= 20 * 60)
        except (jwt.PyJWTError, KeyError):
            ok = False
        if ok:
            self.tokens.append(claims)
            return None
        return web.Response(status=401, content_type="application/json",
                            text=asc_error(401, "NOT_AUTHORIZED", "Authentication credentials are missing or invalid."))

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every answer carries the hourly limit and what remains of it."""
        self.remaining = max(0, self.remaining - 1)
        response.headers["X-Rate-Limit"] = f"user-hour-lim:{self.hour_limit};user-hour-rem:{self.remaining};"

    def _resource(self, review: dict[str, Any], base: str) -> dict[str, Any]:
        item = copy.deepcopy(review)
        response = self.responses.get(review.get("id", ""))
        linkage = {"type": "customerReviewResponses", "id": response["id"]} if response else None
        item["relationships"] = {"response": {"data": linkage, "links": {
            "related": f"{base}/v1/customerReviews/{review.get('id')}/response"}}}
        return item

    async def _list(self, request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}"
        if request.query.get("sort") != "-createdDate":
            return web.Response(status=400, text=asc_error(400, "PARAMETER_ERROR.INVALID", "sort"))
        limit = min(int(request.query.get("limit", 50)), 200)
        offset = int(request.query.get("cursor", 0))
        ordered = sorted(self.reviews, key=_created, reverse=True)
        territory = request.query.get("filter[territory]")
        if territory:
            ordered = [r for r in ordered if r["attributes"].get("territory") == territory]
        page = ordered[offset : offset + limit]
        body: dict[str, Any] = {
            "data": [self._resource(r, base) for r in page],
            "links": {"self": str(request.url)},
            "meta": {"paging": {"total": len(ordered), "limit": limit}},
        }
        if request.query.get("include") == "response":
            body["included"] = [self.responses[r["id"]] for r in page if r.get("id") in self.responses]
        if offset + limit < len(ordered):
            # Apple's next link is absolute and keeps the other parameters.
            body["links"]["next"] = str(request.url.update_query(cursor=str(offset + limit)))
        return web.json_response(body)

    async def _response(self, request: web.Request) -> web.Response:
        review_id = request.match_info["id"]
        response = self.responses.get(review_id)
        if response is not None:
            return web.json_response({"data": response, "links": {"self": str(request.url)}})
        if self.no_response == "null":
            return web.json_response({"data": None, "links": {"self": str(request.url)}})
        return web.Response(status=404, content_type="application/json",
                            text=asc_error(404, "NOT_FOUND", "The specified resource does not exist"))


class FakeAppStoreRss(FakeBase):
    """Serves the public customer-reviews feed: app metadata first, `page_size` reviews per page, 10 pages."""

    def __init__(self, *, page_size: int = 50) -> None:
        super().__init__()
        self.entries: dict[str, list[dict[str, Any]]] = {}  # country -> review entries, newest first
        self.metadata: dict[str, Any] = {}
        self.page_size = page_size
        self.feed_extra: dict[str, Any] = {}

    def app(self) -> web.Application:
        """The aiohttp application to serve."""
        app = web.Application(middlewares=[self.middleware])
        app.router.add_get("/{cc}/rss/customerreviews/page={page}/id={app}/sortby=mostrecent/json", self._feed)
        return app

    async def _feed(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != APP_ID:
            return web.Response(status=404, text="<html>Not Found</html>", content_type="text/html")
        page = int(request.match_info["page"])
        reviews = self.entries.get(request.match_info["cc"], [])
        chunk = copy.deepcopy(reviews[(page - 1) * self.page_size : page * self.page_size])
        entries = ([copy.deepcopy(self.metadata)] if page == 1 and self.metadata else []) + chunk
        feed: dict[str, Any] = {"author": {"name": {"label": "iTunes Store"}}, **self.feed_extra}
        if len(entries) == 1:
            feed["entry"] = entries[0]  # one entry comes as an object, not a list
        elif entries:
            feed["entry"] = entries  # no entries: no "entry" key at all
        return web.Response(text=json.dumps({"feed": feed}), content_type="text/javascript")
