"""A loopback feed server: RSS 2.0 and Google Alerts Atom with ETag/Last-Modified (apis.md §10a)."""

from __future__ import annotations

import hashlib

from aiohttp import web

from tests.connectors.fake_social import FakeApi, load_fixture

LAST_MODIFIED = "Mon, 05 Jan 2026 09:00:00 GMT"


class FakeFeeds(FakeApi):
    """Serves feed documents by path and answers 304 to a matching conditional GET."""

    def __init__(self) -> None:
        super().__init__()
        self.documents = {
            "/alerts/feeds/1623/9754": (
                load_fixture("rss", "google_alerts.xml"), "application/atom+xml; charset=utf-8"
            ),
            "/blog.rss": (load_fixture("rss", "blog.rss"), "application/rss+xml"),
        }

    def routes(self, app: web.Application) -> None:
        """Every path; unknown ones are 404."""
        app.router.add_get("/{tail:.*}", self._feed)

    async def _feed(self, request: web.Request) -> web.Response:
        found = self.documents.get(request.path)
        if found is None:
            return web.Response(status=404, text="not found")
        body, content_type = found
        etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:12] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body.encode(), headers={"ETag": etag, "Last-Modified": LAST_MODIFIED,
                                                         "Content-Type": content_type})
