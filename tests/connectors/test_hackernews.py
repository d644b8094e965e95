"""HackerNewsConnector against a loopback fake Algolia HN API (shapes as in apis.md §5)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.hackernews import HackerNewsConfig, HackerNewsConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_hackernews import FakeHackerNews
from tests.connectors.fake_social import Scripted

BRANDS = [
    BrandView(name="acme", keywords=("acme",), handles=("acme_dev",)), BrandView(name="globex", keywords=("globex",))
]


@pytest.fixture
async def hn(aiohttp_server) -> AsyncIterator[tuple[FakeHackerNews, str]]:  # type: ignore[no-untyped-def]
    fake = FakeHackerNews()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("/api/v1"))


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> HackerNewsConnector:
    settings: dict[str, Any] = {"base_url": url, "search": ["acme"], "brand_comments": False, **config}
    return HackerNewsConnector("hn", HackerNewsConfig(**settings), BRANDS, session, clock=clock)


def comment(n: int, minute: int) -> dict[str, Any]:
    created_at_i = int(datetime(2026, 1, 5, 9, minute, tzinfo=UTC).timestamp())
    return {"objectID": str(42000000 + n), "author": f"user{n}", "created_at_i": created_at_i,
            "comment_text": f"acme problem {n}", "story_id": 42000000, "parent_id": 42000000,
            "_tags": ["comment", f"author_user{n}", "story_42000000"]}


async def test_first_poll_maps_stories_comments_and_brand_answers(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    page = await make(url, session, clock, brand_comments=True).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == ["41000100", "41000202"]
    story, remark = by_id["41000100"], by_id["41000202"]
    assert story.text == "Ask HN: Is Acme down?\n\nGetting 502s from Acme since this morning."
    assert story.conversation_id == "41000100" and story.in_reply_to is None
    assert remark.text == "Acme's API has been down for hours\n\nStatus page says green."
    assert remark.in_reply_to == "41000100" and remark.conversation_id == "41000100"  # ints made text
    assert remark.url == "https://news.ycombinator.com/item?id=41000202"
    assert remark.created_at == datetime(2026, 1, 5, 8, 10, tzinfo=UTC) and remark.brands == ("acme",)
    assert sorted((r.external_id, r.in_reply_to) for r in page.replies) == [
        ("41000203", "41000100"), ("41000204", "41000202")]
    request = fake.requests[0]
    assert request.path == "/api/v1/search_by_date"
    assert request.query["tags"] == "(story,comment)" and "numericFilters" not in request.query
    assert fake.requests[1].query["tags"] == "comment,author_acme_dev"
    streams = json.loads(page.cursor or "")["streams"]
    assert streams["search:acme"]["at"] == "2026-01-05T08:10:00+00:00"
    assert streams["user:acme_dev"]["at"] == "2026-01-05T08:40:00+00:00"


async def test_later_polls_use_a_moving_created_at_floor_and_page(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    conn = make(url, session, clock, hits_per_page=2, overlap="60s")
    first = await conn.poll(None)
    assert len(fake.requests) == 1  # first run: newest page only
    fake.hits += [comment(n, n) for n in range(1, 6)]
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [str(42000000 + n) for n in range(1, 6)]
    floor = int(datetime(2026, 1, 5, 8, 9, tzinfo=UTC).timestamp())
    assert [(r.query["page"], r.query["numericFilters"]) for r in fake.requests] == [
        ("0", f"created_at_i>={floor}"), ("1", f"created_at_i>={floor}"), ("2", f"created_at_i>={floor}")]
    third = await conn.poll(second.cursor)
    assert third.mentions == [] and third.replies == []


async def test_empty_result(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = hn
    page = await make(url, session, clock, search=["zzz"]).poll(None)
    assert page.mentions == []
    assert json.loads(page.cursor or "")["streams"] == {"search:zzz": {"at": clock.now().isoformat(), "seen": {}}}


async def test_brand_account_stream(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    page = await make(url, session, clock, search=[], brand_comments=True).poll(None)
    assert fake.requests[0].query["tags"] == "comment,author_acme_dev"
    assert page.mentions == [] and len(page.replies) == 2


async def test_429_with_retry_after(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.fail_next("/api/v1/search_by_date", Scripted(status=429, body='{"message":"Too many requests"}',
                                                      headers={"Retry-After": "42"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 42.0


async def test_403_means_the_hourly_quota_blocked_us(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.fail_next("/api/v1/search_by_date", Scripted(status=403, body='{"message":"Blocked"}'))
    with pytest.raises(TransientSourceError, match="quota") as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 3600.0


async def test_401_from_a_proxy_is_an_auth_error(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.fail_next("/api/v1/search_by_date", Scripted(status=401, body='{"message":"auth required"}'))
    with pytest.raises(SourceAuthError):
        await make(url, session, clock).poll(None)


async def test_5xx_and_timeout(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.fail_next("/api/v1/search_by_date", Scripted(status=502, body="bad gateway", content_type="text/plain"))
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next("/api/v1/search_by_date", Scripted(body='{"hits": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"hits": [', '{"hits": {}}', "[]"])
async def test_malformed_body(hn, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.fail_next("/api/v1/search_by_date", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock).poll(None)


async def test_malformed_hits_are_skipped(hn, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.hits = [comment(1, 1), {**comment(2, 2), "author": None}, {**comment(3, 3), "created_at_i": "soon"}]
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["42000001"]
    assert conn.malformed == 2 and "'42000002'" in caplog.text and "'42000003'" in caplog.text


async def test_replies_from_the_story_tree(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    fake.requests.clear()
    replies = await conn.replies(mentions)
    assert sorted((r.external_id, r.in_reply_to, r.text) for r in replies) == [
        ("41000203", "41000100", "Looking into it now."),
        ("41000204", "41000202", "Fixed now, sorry & thanks for the report!"),
    ]
    assert [r.path for r in fake.requests] == ["/api/v1/items/41000100"]  # one fetch per story


async def test_replies_ignore_other_users_and_missing_stories(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    tree = fake.items["41000100"]
    for child in tree["children"]:
        if child.get("author") == "acme_dev":
            child["author"] = "someone_else"
    for child in tree["children"][0]["children"]:
        child["author"] = "someone_else"
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    orphan = dataclasses.replace(mentions[0], external_id="1", conversation_id="999")
    assert await conn.replies([*mentions, orphan]) == []


async def test_burst_after_an_empty_first_poll_is_read_completely(hn, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    fake.hits = []
    quiet = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    conn = make(url, session, quiet, hits_per_page=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.hits = [comment(n, n) for n in range(1, 13)]  # 12 hits, more than two pages
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [str(42000000 + n) for n in range(1, 13)]


async def test_replies_sweep_survives_odd_children(hn, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = hn
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    fake.items["41000100"]["children"][0]["children"] = 7  # not a list
    replies = await conn.replies(mentions)
    assert [(r.external_id, r.in_reply_to) for r in replies] == [("41000203", "41000100")]
