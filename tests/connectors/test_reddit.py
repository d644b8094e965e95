"""RedditConnector against a loopback fake Reddit (listings shaped as in apis.md §2)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.reddit import RedditConfig, RedditConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_reddit import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, FakeReddit
from tests.connectors.fake_social import Scripted

BRANDS = [
    BrandView(name="acme", keywords=("acme",), handles=("u/AcmeSupport",)),
    BrandView(name="globex", keywords=("globex",)),
]


@pytest.fixture
async def reddit(aiohttp_server) -> AsyncIterator[tuple[FakeReddit, str]]:  # type: ignore[no-untyped-def]
    fake = FakeReddit()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> RedditConnector:
    settings: dict[str, Any] = {
        "base_url": url, "token_url": f"{url}/api/v1/access_token", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "search": ["acme"], "brand_comments": False, **config,
    }
    return RedditConnector("reddit", RedditConfig(**settings), BRANDS, session, clock=clock)


def post(n: int, minute: int) -> dict[str, Any]:
    return {"id": f"p{n:04d}", "name": f"t3_p{n:04d}", "author": f"user{n}", "title": f"acme issue {n}",
            "selftext": "", "subreddit": "acme", "permalink": f"/r/acme/comments/p{n:04d}/x/",
            "created_utc": datetime(2026, 1, 5, 9, minute, tzinfo=UTC).timestamp(), "edited": False}


async def test_first_poll_maps_posts_and_authenticates(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    page = await make(url, session, clock, user_agent="linux:listener-test:1.0 (by /u/ops)").poll(None)
    # The brand's own release post is neither a mention nor a reply.
    assert [m.external_id for m in page.mentions] == ["t3_1abc03", "t3_1abc01"]
    first = page.mentions[1]
    assert first.author == "u/jdoe" and first.brands == ("acme",)
    assert first.text == "My Acme order never arrived\n\nOrdered three weeks ago &amp; still nothing."
    assert first.url == "https://www.reddit.com/r/gadgets/comments/1abc01/my_acme_order_never_arrived/"
    assert first.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert first.conversation_id == "t3_1abc01"
    assert first.edited_at == datetime(2026, 1, 5, 8, 5, tzinfo=UTC)
    token_req, search_req = fake.requests
    assert token_req.path == "/api/v1/access_token" and b"grant_type=client_credentials" in token_req.body
    assert search_req.path == "/search"
    assert search_req.headers["Authorization"] == f"bearer {ACCESS_TOKEN}"
    assert search_req.headers["User-Agent"] == "linux:listener-test:1.0 (by /u/ops)"
    assert search_req.query["sort"] == "new" and search_req.query["raw_json"] == "1"
    cursor = json.loads(page.cursor or "")
    assert cursor["streams"]["search:acme"]["at"] == "2026-01-05T08:30:00+00:00"


async def test_token_is_reused_until_it_expires(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    conn = make(url, session, clock)
    page = await conn.poll(None)
    await conn.poll(page.cursor)
    assert fake.tokens_issued == 1
    clock.advance(timedelta(hours=1))
    await conn.poll(page.cursor)
    assert fake.tokens_issued == 2


async def test_pages_back_to_the_last_position(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.posts = [post(1, 0)]
    conn = make(url, session, clock, limit=2, overlap="0s")
    first = await conn.poll(None)
    assert [m.external_id for m in first.mentions] == ["t3_p0001"]
    fake.posts += [post(n, n) for n in range(2, 7)]
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"t3_p{n:04d}" for n in range(2, 7)]
    afters = [r.query.get("after") for r in fake.requests if r.path == "/search"]
    assert afters == [None, "t3_p0005", "t3_p0003"]
    third = await conn.poll(second.cursor)
    assert third.mentions == []


async def test_first_run_reads_only_the_newest_page(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.posts = [post(n, n) for n in range(1, 6)]
    page = await make(url, session, clock, limit=2).poll(None)
    assert [m.external_id for m in page.mentions] == ["t3_p0005", "t3_p0004"]
    assert len([r for r in fake.requests if r.path == "/search"]) == 1


async def test_empty_result(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = reddit
    page = await make(url, session, clock, search=["zzz"]).poll(None)
    assert page.mentions == [] and page.replies == []
    streams = {"search:zzz": {"at": clock.now().isoformat(), "seen": {}}}
    assert json.loads(page.cursor or "") == {"v": 1, "streams": streams}


async def test_429_waits_for_reddits_reset_seconds(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.fail_next("/search", Scripted(status=429, body='{"message": "Too Many Requests", "error": 429}',
                                       headers={"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "600",
                                                "x-ratelimit-reset": "117"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 117.0  # seconds left in the window, not an epoch


async def test_used_up_quota_stops_the_poll_and_keeps_what_it_has(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.remaining = 1.0  # the next answer says 0.0 remain
    page = await make(url, session, clock, search=["acme", "globex"], subreddits=["gadgets"]).poll(None)
    assert len([r for r in fake.requests if r.path != "/api/v1/access_token"]) == 1
    assert [m.external_id for m in page.mentions] == ["t3_1abc01"]
    assert list(json.loads(page.cursor or "")["streams"]) == ["search:acme"]


@pytest.mark.parametrize("what", ["client", "password"])
async def test_rejected_credentials(reddit, session, clock, what) -> None:  # type: ignore[no-untyped-def]
    _, url = reddit
    config = {"client_secret": "wrong-secret-xyz"} if what == "client" else {"username": "ops", "password": "nope-nope"}
    with pytest.raises(SourceAuthError) as info:
        await make(url, session, clock, **config).poll(None)
    assert "wrong-secret-xyz" not in str(info.value) and "nope-nope" not in str(info.value)
    if what == "password":
        assert "invalid_grant" in str(info.value)  # Reddit says no with HTTP 200


async def test_401_on_a_listing_is_an_auth_error(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    for _ in range(2):  # the connector retries once with a fresh token
        fake.fail_next("/search", Scripted(status=401, body='{"message": "Unauthorized", "error": 401}'))
    with pytest.raises(SourceAuthError):
        await make(url, session, clock).poll(None)
    assert fake.tokens_issued == 2


async def test_5xx_and_timeout_are_transient(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.fail_next("/search", Scripted(status=503, body="<html>down</html>", content_type="text/html",
                                       headers={"Retry-After": "20"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 20.0
    fake.fail_next("/search", Scripted(body='{"kind": "Listing"}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize(
    "body", ['{"kind": "Listing", "data": {"children": ', '{"kind": "Listing", "data": {"children": 3}}']
)
async def test_malformed_body(reddit, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.fail_next("/search", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock).poll(None)


async def test_malformed_things_are_skipped_and_counted(reddit, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    no_time = {**post(1, 1), "created_utc": None}
    no_author = {**post(2, 2), "author": None}
    fake.posts = [no_time, no_author, post(3, 3)]
    conn = make(url, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors._social")
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["t3_p0003"]
    assert conn.malformed == 2
    logged = caplog.text
    assert "'t3_p0001'" in logged and "'t3_p0002'" in logged


async def test_brand_comments_in_a_subreddit_are_replies(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    page = await make(url, session, clock, search=[], subreddits=["gadgets"]).poll(None)
    assert sorted((r.external_id, r.in_reply_to) for r in page.replies) == [
        ("t1_c00003", "t3_1abc01"), ("t1_c00004", "t1_c00002")]
    assert sorted(m.external_id for m in page.mentions) == ["t1_c00001", "t1_c00002"]
    follow_up = next(m for m in page.mentions if m.external_id == "t1_c00002")
    assert follow_up.in_reply_to == "t3_1abc01" and follow_up.conversation_id == "t3_1abc01"
    assert page.replies[0].author == "u/AcmeSupport"


async def test_brand_account_comments_are_polled(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    page = await make(url, session, clock, search=[], brand_comments=True).poll(None)
    assert [r.path for r in fake.requests][1:] == ["/user/acmesupport/comments"]
    assert {r.in_reply_to for r in page.replies} == {"t3_1abc01", "t1_c00002"}


async def test_replies_walk_the_comment_tree(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    conn = make(url, session, clock, search=[], subreddits=["gadgets"])
    comments = (await conn.poll(None)).mentions
    posts = (await make(url, session, clock).poll(None)).mentions
    waiting = [m for m in [*posts, *comments] if m.external_id in ("t3_1abc01", "t1_c00002", "t1_c00001", "t3_1abc03")]
    fake.requests.clear()
    replies = await conn.replies(waiting)
    assert sorted((r.external_id, r.in_reply_to) for r in replies) == [
        ("t1_c00003", "t3_1abc01"),  # direct answer to the post
        ("t1_c00004", "t1_c00002"),  # answer to the customer's follow-up
    ]
    # One tree per post; the bystander's comment got no answer.
    assert sorted(r.path for r in fake.requests if r.path.startswith("/comments")) == [
        "/comments/1abc01", "/comments/1abc03"]


async def test_replies_prefer_a_direct_answer(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    early = copy.deepcopy(fake.comments[0])
    early.update(id="c00009", name="t1_c00009", parent_id="t1_c00001", created_utc=1767600400.0)
    fake.comments.append(early)  # the brand answered the bystander first
    conn = make(url, session, clock)
    op = next(m for m in (await conn.poll(None)).mentions if m.external_id == "t3_1abc01")
    replies = await conn.replies([op])
    assert [r.external_id for r in replies] == ["t1_c00003"]


async def test_without_credentials_the_public_json_pages_are_used(reddit, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    config = RedditConfig(base_url=url, search=["acme"], brand_comments=False)
    page = await RedditConnector("reddit", config, BRANDS, session, clock=clock).poll(None)
    assert [r.path for r in fake.requests] == ["/search.json"]
    assert "Authorization" not in fake.requests[0].headers
    assert len(page.mentions) == 2


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="go together"):
        RedditConfig(client_id="x")
    assert RedditConfig().api_root == "https://www.reddit.com"
    assert RedditConfig(subreddits=["r/Acme"]).subreddits == ("Acme",)


async def test_burst_after_an_empty_first_poll_is_read_completely(reddit, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = reddit
    fake.posts = []
    quiet = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    conn = make(url, session, quiet, limit=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.posts = [post(n, n) for n in range(1, 13)]
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"t3_p{n:04d}" for n in range(1, 13)]
