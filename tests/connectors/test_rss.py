"""RssConnector against a loopback feed server (RSS 2.0 and Google Alerts Atom; apis.md §10a)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.rss import RssConfig, RssConnector, unwrap
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.conftest import NOW
from tests.connectors.fake_rss import LAST_MODIFIED, FakeFeeds
from tests.connectors.fake_social import Scripted

BRANDS = [BrandView(name="acme", keywords=("acme",)), BrandView(name="globex", keywords=("globex",))]
ALERTS, BLOG = "/alerts/feeds/1623/9754", "/blog.rss"


@pytest.fixture
async def feeds(aiohttp_server) -> AsyncIterator[tuple[FakeFeeds, str]]:  # type: ignore[no-untyped-def]
    fake = FakeFeeds()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, paths: list[str], **config: Any) -> RssConnector:
    return RssConnector("news", RssConfig(feeds=[url + p for p in paths], **config), BRANDS, session, clock=clock)


def test_unwrap_google_links() -> None:
    assert unwrap("https://www.google.com/url?rct=j&sa=t&url=https://a.example/x%3Fy%3D1&ct=ga") == "https://a.example/x?y=1"
    assert unwrap("https://a.example/url?url=https://b.example") == "https://a.example/url?url=https://b.example"


async def test_google_alerts_and_rss(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    page = await make(url, session, clock, [ALERTS, BLOG]).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    alert = by_id["https://news.example.com/acme-outage"]  # the article's link is its identity
    assert alert.url == "https://news.example.com/acme-outage"
    assert alert.text == 'Customers angry at Acme outage\n\nUsers of Acme reported "hours" of downtime'
    assert alert.created_at == datetime(2026, 1, 5, 8, 55, 10, tzinfo=UTC)
    assert alert.author == "news.example.com" and alert.brands == ("acme",)
    assert by_id["https://tech.example.org/globex-launch"].brands == ("globex",)
    review = by_id["https://gadgets.example.net/acme-phone-x"]
    assert review.created_at == datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # +0100 offset
    assert review.text == "Acme Phone X review: great camera, bad support\n\nThe Acme Phone X is fast."
    assert review.author == "editor@gadgets.example.net (Sam Editor)"
    undated = by_id["https://gadgets.example.net/note"]
    assert undated.created_at == NOW and undated.raw["date_missing"] is True
    assert page.replies == []
    assert "application/atom+xml" in fake.requests[0].headers["Accept"]


async def test_conditional_get_and_only_new_entries(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    conn = make(url, session, clock, [ALERTS])
    first = await conn.poll(None)
    state = json.loads(first.cursor or "")["feeds"][url + ALERTS]
    assert state["modified"] == LAST_MODIFIED and state["etag"].startswith('"')
    fake.requests.clear()
    second = await conn.poll(first.cursor)  # unchanged: 304, nothing new, state kept
    assert fake.requests[0].headers["If-None-Match"] == state["etag"]
    assert fake.requests[0].headers["If-Modified-Since"] == LAST_MODIFIED
    assert second.mentions == [] and second.cursor == first.cursor
    body, kind = fake.documents[ALERTS]
    extra = body.split(" <entry>")[1].replace("1171474364562104823", "1171474364562109999")
    fake.documents[ALERTS] = (body.replace(" <entry>", " <entry>" + extra + " <entry>", 1), kind)
    third = await conn.poll(second.cursor)
    assert [m.raw["id"] for m in third.mentions] == ["tag:google.com,2013:googlealerts/feed:1171474364562109999"]


async def test_empty_feed(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.documents["/empty.xml"] = ('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
                                    "application/rss+xml")
    page = await make(url, session, clock, ["/empty.xml"]).poll(None)
    assert page.mentions == [] and json.loads(page.cursor or "")["feeds"][url + "/empty.xml"]["seen"] == []


async def test_429_with_retry_after(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.fail_next(ALERTS, Scripted(status=429, body="Too many requests", content_type="text/plain",
                                    headers={"Retry-After": "Mon, 05 Jan 2026 10:02:00 GMT"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock, [ALERTS]).poll(None)
    assert info.value.retry_after == 120.0


async def test_one_failing_feed_does_not_stop_the_others(feeds, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.fail_next(ALERTS, Scripted(status=503, body="down", content_type="text/plain"))
    page = await make(url, session, clock, [ALERTS, BLOG]).poll(None)
    assert {m.raw["feed"] for m in page.mentions} == {url + BLOG}
    assert url + ALERTS not in json.loads(page.cursor or "")["feeds"]  # retried from scratch next time
    assert "503" in caplog.text


async def test_a_rate_limited_feed_waits_out_its_retry_after(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.fail_next(ALERTS, Scripted(status=429, body="Too many requests", content_type="text/plain",
                                    headers={"Retry-After": "3600"}))
    conn = make(url, session, clock, [ALERTS, BLOG])
    first = await conn.poll(None)
    assert {m.raw["feed"] for m in first.mentions} == {url + BLOG}
    clock.advance(timedelta(minutes=2))
    fake.requests.clear()
    second = await conn.poll(first.cursor)  # the next poll leaves the rate-limited feed alone
    assert [r.path for r in fake.requests] == [BLOG]
    clock.advance(timedelta(minutes=59))
    fake.requests.clear()
    third = await conn.poll(second.cursor)  # the hour has passed
    assert [r.path for r in fake.requests] == [ALERTS, BLOG]
    assert {m.raw["feed"] for m in third.mentions} == {url + ALERTS}


async def test_401_and_quota_like_403(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.fail_next(ALERTS, Scripted(status=401, body="login required", content_type="text/plain"))
    with pytest.raises(SourceAuthError):
        await make(url, session, clock, [ALERTS]).poll(None)
    fake.fail_next(ALERTS, Scripted(status=403, body="quota", content_type="text/plain"))
    with pytest.raises(SourceAuthError):
        await make(url, session, clock, [ALERTS]).poll(None)


async def test_timeout(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.fail_next(BLOG, Scripted(body="<rss></rss>", delay_body=5, content_type="application/rss+xml"))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, [BLOG], timeout="50ms").poll(None)


async def test_not_a_feed(feeds, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    fake.fail_next(BLOG, Scripted(body="<html><body>Maintenance</body></html>", content_type="text/html"))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock, [BLOG]).poll(None)


async def test_entries_without_id_link_or_title_are_skipped(feeds, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    body = fake.documents[BLOG][0].replace("<item>\n   <title>Undated note about acme</title>\n   <link>https://gadgets.example.net/note</link>",
                                            "<item><description>acme without anything</description>")
    fake.documents[BLOG] = (body, "application/rss+xml")
    conn = make(url, session, clock, [BLOG])
    page = await conn.poll(None)
    assert [m.raw["id"] for m in page.mentions] == ["gadgets-4711"]
    assert conn.malformed == 1 and "no id, link or title" in caplog.text


def test_feeds_are_required() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RssConfig(feeds=[])
    assert RssConnector.can_see_replies is False
