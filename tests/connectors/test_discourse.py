"""DiscourseConnector against a loopback fake forum (shapes as in apis.md §10b)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.discourse import DiscourseConfig, DiscourseConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_discourse import API_KEY, FakeDiscourse
from tests.connectors.fake_social import Scripted

BRANDS = [
    BrandView(name="acme", keywords=("acme",), handles=("acme_team",)), BrandView(name="globex", keywords=("globex",))
]


@pytest.fixture
async def forum(aiohttp_server) -> AsyncIterator[tuple[FakeDiscourse, str]]:  # type: ignore[no-untyped-def]
    fake = FakeDiscourse()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> DiscourseConnector:
    return DiscourseConnector("forum", DiscourseConfig(base_url=url, **config), BRANDS, session, clock=clock)


def post(n: int, topic: int = 90, number: int = 1) -> dict[str, Any]:
    created_at = (datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(minutes=n)).isoformat()
    return {"id": 2000 + n, "username": f"user{n}", "created_at": created_at,
            "cooked": f"<p>acme problem {n}</p>", "post_number": number, "reply_to_post_number": None,
            "topic_id": topic, "topic_slug": f"t{topic}", "topic_title": f"Topic {topic}"}


async def test_first_poll(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    page = await make(url, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == ["77/1", "77/2", "78/1"]
    first = by_id["77/1"]
    assert first.text == "Acme sync broken\n\nSync fails with error 42 since the update."
    assert first.url == f"{url}/t/acme-sync-broken/77/1" and first.author == "jane" and first.conversation_id == "77"
    assert first.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and first.brands == ("acme",)
    assert by_id["77/2"].text == "Still broken for me & my team." and by_id["77/2"].brands == ()
    assert by_id["78/1"].brands == ("globex",)
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [("77/3", "77/2", "acme_team")]
    assert json.loads(page.cursor or "") == {"v": 1, "marks": {"latest": 1004}}
    assert "Api-Key" not in fake.requests[0].headers


async def test_pages_back_with_before(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.page_size = 2
    conn = make(url, session, clock)
    first = await conn.poll(None)
    assert len(first.mentions) == 1 and len(fake.requests) == 1  # newest page only: 1004 (brand), 1003
    fake.posts += [post(n, number=n) for n in range(1, 6)]
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"90/{n}" for n in range(1, 6)]
    assert [r.query.get("before") for r in fake.requests] == [None, "2004", "2002"]
    assert json.loads(second.cursor or "")["marks"]["latest"] == 2005


async def test_empty_forum(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.posts = []
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert page.mentions == [] and json.loads(page.cursor or "")["marks"] == {"latest": 0}
    fake.page_size = 2
    fake.posts = [post(n, number=n) for n in range(1, 6)]  # a burst after the quiet start is read whole
    second = await conn.poll(page.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"90/{n}" for n in range(1, 6)]


async def test_search_stream(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    conn = make(url, session, clock, latest_posts=False, search=["sync"])
    page = await conn.poll(None)
    assert sorted(m.external_id for m in page.mentions) == ["77/1", "77/2"]  # the title matches too
    assert fake.requests[0].query["q"] == "sync order:latest"
    assert {m.url for m in page.mentions} == {f"{url}/t/acme-sync-broken/77/1", f"{url}/t/acme-sync-broken/77/2"}
    assert json.loads(page.cursor or "")["marks"] == {"search:sync": 1004}


async def test_search_pages_on_more_full_page_results(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.page_size = 2
    fake.posts.append(post(0))
    conn = make(url, session, clock, latest_posts=False, search=["problem"])
    first = await conn.poll(None)
    assert [m.external_id for m in first.mentions] == ["90/1"]
    fake.posts += [post(n, number=n + 1) for n in range(1, 6)]
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"90/{n}" for n in range(2, 7)]
    assert [r.query["page"] for r in fake.requests] == ["1", "2", "3"]


async def test_429_retry_after_header(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.fail_next("/posts.json", Scripted(status=429, headers={"Retry-After": "37"}, body=json.dumps(
        {"errors": ["You've performed this action too many times."], "error_type": "rate_limit",
         "extras": {"wait_seconds": 37, "time_left": "37 seconds"}})))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 37.0


async def test_daily_api_key_quota_uses_wait_seconds(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    body = json.dumps({"errors": ["Too many"], "error_type": "rate_limit",
                       "extras": {"wait_seconds": 5400, "time_left": "about 2 hours"}})
    headers = {"Discourse-Rate-Limit-Error-Code": "user_api_key_limiter_1_day"}
    fake.fail_next("/posts.json", Scripted(status=429, headers=headers, body=body))
    with pytest.raises(TransientSourceError, match="user_api_key_limiter_1_day") as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 5400.0


async def test_api_key_headers_and_rejection(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.require_key = True
    page = await make(url, session, clock, api_key=API_KEY).poll(None)
    assert fake.requests[0].headers["Api-Key"] == API_KEY and fake.requests[0].headers["Api-Username"] == "system"
    assert page.mentions
    with pytest.raises(SourceAuthError):
        await make(url, session, clock, api_key="wrong-key-123").poll(None)
    fake.fail_next("/posts.json", Scripted(status=401, body='{"errors": ["not logged in"]}'))
    with pytest.raises(SourceAuthError):
        await make(url, session, clock, api_key=API_KEY).poll(None)


async def test_5xx_and_timeout(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.fail_next("/posts.json", Scripted(status=502, body="<html>Bad Gateway</html>", content_type="text/html"))
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next("/posts.json", Scripted(body='{"latest_posts": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"latest_posts": [', '{"latest_posts": {}}', "<html>maintenance</html>"])
async def test_malformed_body(forum, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.fail_next("/posts.json", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock).poll(None)


async def test_malformed_posts_are_skipped(forum, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.posts = [post(1), {**post(2, number=2), "username": None}, {**post(3, number=3), "created_at": "whenever"}]
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert [m.raw["id"] for m in page.mentions] == [2001]
    assert conn.malformed == 2 and "2002" in caplog.text and "2003" in caplog.text


async def test_replies_read_the_whole_topic(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    fake.chunk = 2  # only two posts inlined: the brand's answer must be fetched by id
    conn = make(url, session, clock)
    mentions = {m.external_id: m for m in (await conn.poll(None)).mentions}
    fake.requests.clear()
    replies = await conn.replies([mentions["77/1"], mentions["77/2"], mentions["78/1"]])
    assert sorted((r.external_id, r.in_reply_to) for r in replies) == [("77/3", "77/1"), ("77/3", "77/2")]
    assert fake.paths() == ["/t/77.json", "/t/77/posts.json", "/t/78.json"]
    assert fake.requests[1].query.getall("post_ids[]") == ["1004"]


async def test_replies_skip_deleted_topics(forum, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = forum
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    fake.posts = []
    assert await conn.replies(mentions) == []
