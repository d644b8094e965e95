"""BlueskyConnector against a loopback fake PDS/AppView (XRPC shapes as in apis.md §4)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.bluesky import BlueskyConfig, BlueskyConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_bluesky import APP_PASSWORD, HANDLE, FakeBluesky
from tests.connectors.fake_social import Scripted

BRANDS = [BrandView(name="acme", keywords=("acme",), handles=("@acme.com", "did:plc:acme0000000000000000000")),
          BrandView(name="globex", keywords=("globex",))]
JANE = "at://did:plc:jane0000000000000000000/app.bsky.feed.post/3lq2dkd4xks2a"
ANSWER = "at://did:plc:acme0000000000000000000/app.bsky.feed.post/3lq2dzz000001"
BOB = "at://did:plc:bob00000000000000000000/app.bsky.feed.post/3lq2ebb000002"


@pytest.fixture
async def bsky(aiohttp_server) -> AsyncIterator[tuple[FakeBluesky, str]]:  # type: ignore[no-untyped-def]
    fake = FakeBluesky()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> BlueskyConnector:
    settings: dict[str, Any] = {"base_url": url, "identifier": HANDLE, "app_password": APP_PASSWORD,
                                "search": ["refund", "acme"], "brand_feeds": False, **config}
    return BlueskyConnector("bsky", BlueskyConfig(**settings), BRANDS, session, clock=clock)


def post(n: int, minute: int) -> dict[str, Any]:
    when = datetime(2026, 1, 5, 9, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"uri": f"at://did:plc:user{n}/app.bsky.feed.post/p{n:04d}", "cid": f"bafy{n}",
            "author": {"did": f"did:plc:user{n}", "handle": f"user{n}.bsky.social"},
            "record": {"$type": "app.bsky.feed.post", "text": f"refund problem {n}", "createdAt": when},
            "indexedAt": when}


async def test_first_poll_logs_in_and_maps_posts(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    page = await make(url, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == sorted([JANE, BOB])
    jane = by_id[JANE]
    assert jane.author == "@jane.bsky.social" and jane.author_name == "Jane" and jane.lang == "en"
    assert jane.url == "https://bsky.app/profile/jane.bsky.social/post/3lq2dkd4xks2a"
    assert jane.brands == ("acme",)  # "@acme.com" is a mention facet of the brand's DID
    assert jane.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and jane.conversation_id == JANE
    # Bob's client claims 2099: indexedAt bounds it.
    assert by_id[BOB].created_at == datetime(2026, 1, 5, 8, 40, tzinfo=UTC)
    assert [(r.external_id, r.in_reply_to) for r in page.replies] == [(ANSWER, JANE)]
    assert fake.paths()[0] == "/xrpc/com.atproto.server.createSession" and fake.sessions == 1
    search = fake.requests[1]
    assert search.query["q"] == "refund" and search.query["sort"] == "latest" and "since" not in search.query
    assert search.headers["Authorization"] == "Bearer access-jwt-1"


async def test_pages_with_the_cursor_down_to_the_mark(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.posts = [post(1, 1)]
    conn = make(url, session, clock, search=["refund"], limit=2, overlap="0s")
    first = await conn.poll(None)
    fake.posts += [post(n, n) for n in range(2, 7)]
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == sorted(p["uri"] for p in [post(n, n) for n in range(2, 7)])
    searches = [r.query for r in fake.requests if r.path.endswith("searchPosts")]
    assert [q.get("cursor") for q in searches] == [None, "2", "4"]
    assert searches[0]["since"] == "2026-01-05T09:01:00.000Z"
    assert fake.sessions == 1  # the session is reused
    assert (await conn.poll(second.cursor)).mentions == []


async def test_empty_result(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = bsky
    page = await make(url, session, clock, search=["zzz"]).poll(None)
    assert page.mentions == []
    assert json.loads(page.cursor or "")["streams"] == {"search:zzz": {"at": clock.now().isoformat(), "seen": {}}}


async def test_429_uses_the_epoch_reset(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.fail_next("/xrpc/app.bsky.feed.searchPosts", Scripted(
        status=429, body='{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
        headers={"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": "1767607500",
                 "RateLimit-Policy": "3000;w=300"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 300.0


async def test_daily_session_quota(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.fail_next("/xrpc/com.atproto.server.createSession", Scripted(
        status=429, body='{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}',
        headers={"RateLimit-Limit": "300", "RateLimit-Remaining": "0", "RateLimit-Reset": "1767610800",
                 "RateLimit-Policy": "300;w=86400"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 3600.0


async def test_used_up_window_stops_the_poll(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.remaining = 2  # createSession and the first search use them up
    page = await make(url, session, clock).poll(None)
    assert [p for p in fake.paths() if p.endswith("searchPosts")] == ["/xrpc/app.bsky.feed.searchPosts"]
    assert list(json.loads(page.cursor or "")["streams"]) == ["search:refund"]


async def test_wrong_app_password(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = bsky
    with pytest.raises(SourceAuthError) as info:
        await make(url, session, clock, app_password="wrong-pass-0000").poll(None)
    assert "wrong-pass-0000" not in str(info.value)


async def test_public_appview_search_is_forbidden(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.public = True
    config = BlueskyConfig(base_url=url, search=["acme"], enabled=False)
    conn = BlueskyConnector("bsky", config, BRANDS, session, clock=clock)
    with pytest.raises(SourceAuthError, match="needs a login"):
        await conn.poll(None)


async def test_expired_session_is_renewed_once(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    conn = make(url, session, clock, search=["refund"])
    first = await conn.poll(None)
    fake.fail_next("/xrpc/app.bsky.feed.searchPosts",
                   Scripted(status=400, body='{"error":"ExpiredToken","message":"Token has expired"}'))
    await conn.poll(first.cursor)
    assert fake.refreshes == 1 and fake.sessions == 1
    assert fake.requests[-1].headers["Authorization"] == "Bearer access-jwt-2"


async def test_5xx_and_timeout(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.fail_next(
        "/xrpc/app.bsky.feed.searchPosts", Scripted(status=502, body="bad gateway", content_type="text/plain")
    )
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next("/xrpc/app.bsky.feed.searchPosts", Scripted(body='{"posts": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"posts": [', '{"posts": null}', "[]"])
async def test_malformed_body(bsky, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.fail_next("/xrpc/app.bsky.feed.searchPosts", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock).poll(None)


async def test_malformed_posts_are_skipped(bsky, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    no_author = {**post(2, 2), "author": {"handle": "x"}}
    no_time = {**post(3, 3), "indexedAt": None}
    fake.posts = [post(1, 1), no_author, no_time]
    conn = make(url, session, clock, search=["refund"])
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == [post(1, 1)["uri"]]
    assert conn.malformed == 2 and no_author["uri"] in caplog.text


async def test_brand_feed_gives_replies(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    page = await make(url, session, clock, search=[], brand_feeds=True).poll(None)
    feeds = [r.query for r in fake.requests if r.path.endswith("getAuthorFeed")]
    assert [q["actor"] for q in feeds] == ["acme.com", "did:plc:acme0000000000000000000"]
    assert feeds[0]["filter"] == "posts_with_replies"
    assert [(r.external_id, r.in_reply_to) for r in page.replies] == [(ANSWER, JANE)]


async def test_replies_walk_the_thread(bsky, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    conn = make(url, session, clock, search=["acme"])
    mentions = (await conn.poll(None)).mentions
    gone = copy.deepcopy(mentions[0])
    object.__setattr__(gone, "external_id", "at://did:plc:gone/app.bsky.feed.post/x")
    fake.requests.clear()
    replies = await conn.replies([*mentions, gone])
    assert [(r.external_id, r.in_reply_to, r.created_at) for r in replies] == [
        (ANSWER, JANE, datetime(2026, 1, 5, 8, 30, tzinfo=UTC))]
    assert [r.query["uri"] for r in fake.requests if r.path.endswith("getPostThread")] == [
        m.external_id for m in [*mentions, gone]]


def test_login_pair_is_checked() -> None:
    with pytest.raises(ValueError, match="go together"):
        BlueskyConfig(identifier="me.bsky.social")
    assert BlueskyConfig(search=[]).base_url == "https://bsky.social"
    assert timedelta(minutes=10) == BlueskyConfig(search=[]).overlap


async def test_burst_after_an_empty_first_poll_is_read_completely(bsky, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = bsky
    fake.posts = []
    quiet = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    conn = make(url, session, quiet, search=["refund"], limit=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.posts = [post(n, n) for n in range(1, 13)]
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == sorted(
        f"at://did:plc:user{n}/app.bsky.feed.post/p{n:04d}" for n in range(1, 13))
