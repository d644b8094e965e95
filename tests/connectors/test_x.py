"""XConnector against a loopback fake of API v2 recent search (shapes as in apis.md §1)."""

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
from connectors.x import XConfig, XConnector, default_query
from listener.clock import FakeClock
from listener.errors import ConfigError, SourceAuthError, TransientSourceError
from tests.connectors.fake_social import Scripted
from tests.connectors.fake_x import BEARER, FakeX

BRANDS = [
    BrandView(name="acme", keywords=("acme",), handles=("@AcmeHelp",)), BrandView(name="globex", keywords=("globex",))
]
OP, FOLLOW_UP, OWN_POST, ANSWER = (f"18800000000000001{n:02d}" for n in range(1, 5))


@pytest.fixture
async def x(aiohttp_server) -> AsyncIterator[tuple[FakeX, str]]:  # type: ignore[no-untyped-def]
    fake = FakeX()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("/2"))


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> XConnector:
    settings: dict[str, Any] = {"base_url": url, "bearer_token": BEARER, "brand_replies": False, **config}
    return XConnector("x", XConfig(**settings), BRANDS, session, clock=clock)


def _iso_z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def tweets(count: int, start: int) -> list[dict[str, Any]]:
    return [{"id": f"18900000000000{n:05d}", "text": f"acme problem {n}", "author_id": "63044444",
             "created_at": _iso_z(datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(seconds=n)),
             "conversation_id": f"18900000000000{n:05d}"} for n in range(start, start + count)]


def test_default_query() -> None:
    assert default_query(BRANDS, retweets=False) == "(acme OR globex OR @AcmeHelp) -is:retweet"
    two = [BrandView(name="a", keywords=("acme corp", "acme"))]
    assert default_query(two, retweets=True) == '("acme corp" OR acme)'


async def test_first_poll(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    page = await make(url, session, clock, brand_replies=True).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == [OP, FOLLOW_UP]  # the brand's own post is neither mention nor reply
    op = by_id[OP]
    assert (op.author, op.author_name, op.author_followers) == ("@jdoe", "J Doe", 120)
    assert op.url == f"https://x.com/jdoe/status/{OP}" and op.lang == "en"
    assert op.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and op.brands == ("acme",)
    assert by_id[FOLLOW_UP].in_reply_to == OP and by_id[FOLLOW_UP].conversation_id == OP
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [(ANSWER, OP, "@AcmeHelp")]
    search, replies = fake.requests
    assert search.query["query"] == "(acme OR globex OR @AcmeHelp) -is:retweet"
    assert "since_id" not in search.query and search.query["expansions"].startswith("author_id,")
    assert "conversation_id" in search.query["tweet.fields"] and search.query["max_results"] == "100"
    assert search.headers["Authorization"] == f"Bearer {BEARER}"
    assert replies.query["query"] == "(from:AcmeHelp) is:reply"
    assert json.loads(page.cursor or "") == {"v": 1, "since": {"search": OWN_POST, "replies": ANSWER}}


async def test_follows_next_token_and_keeps_the_first_pages_newest_id(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.tweets = tweets(12, 1)
    conn = make(url, session, clock, max_results=10)
    first = await conn.poll(None)
    assert len(first.mentions) == 10 and len(fake.requests) == 1  # first run: newest page only
    fake.tweets += tweets(15, 13)
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [t["id"] for t in tweets(15, 13)]
    assert [(r.query.get("since_id"), r.query.get("next_token")) for r in fake.requests] == [
        ("1890000000000000012", None), ("1890000000000000012", "tok-10")]
    assert json.loads(second.cursor or "")["since"]["search"] == "1890000000000000027"


async def test_empty_result_keeps_the_position(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    conn = make(url, session, clock)
    first = await conn.poll(None)
    second = await conn.poll(first.cursor)  # {"meta": {"result_count": 0}}: no data, no newest_id
    assert second.mentions == [] and second.cursor == first.cursor
    empty = await make(url, session, clock, query="zzz").poll(None)
    assert empty.mentions == [] and json.loads(empty.cursor or "")["since"] == {}


async def test_429_waits_until_the_epoch_reset(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.fail_next("/2/tweets/search/recent", Scripted(status=429, body='{"title":"Too Many Requests","status":429}',
                   headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1767608100"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 900.0  # 10:15 reset - 10:00 now


async def test_usage_cap_is_a_long_wait(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.fail_next("/2/tweets/search/recent", Scripted(status=429, body=json.dumps({
        "title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
        "type": "https://api.twitter.com/2/problems/usage-capped", "period": "Monthly", "scope": "Product"}),
        headers={"x-rate-limit-remaining": "440", "x-rate-limit-reset": "1767608100"}))
    with pytest.raises(TransientSourceError, match="usage cap") as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 3600.0


async def test_used_up_window_skips_the_next_stream(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.remaining = 1
    page = await make(url, session, clock, brand_replies=True).poll(None)
    assert len(fake.requests) == 1 and page.mentions
    assert list(json.loads(page.cursor or "")["since"]) == ["search"]


async def test_401(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = x
    conn = XConnector("x", XConfig(base_url=url, bearer_token="bad-token-0000"), BRANDS, session, clock=clock)
    with pytest.raises(SourceAuthError) as info:
        await conn.poll(None)
    assert "bad-token-0000" not in str(info.value)


async def test_5xx_and_timeout(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.fail_next("/2/tweets", Scripted(status=503, body='{"title":"Service Unavailable"}'))
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next("/2/tweets", Scripted(body='{"meta": {"result_count": 0}}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"data": [{"id": "1"', '{"data": {"id": "1"}}', '"ok"'])
async def test_malformed_body(x, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.fail_next("/2/tweets", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock).poll(None)


async def test_malformed_tweets_are_skipped(x, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    good, no_author, bad_time = tweets(3, 1)
    del no_author["author_id"]
    bad_time["created_at"] = "Tuesday"
    fake.tweets = [good, no_author, bad_time]
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == [good["id"]]
    assert conn.malformed == 2 and no_author["id"] in caplog.text and bad_time["id"] in caplog.text


async def test_replies_search_the_conversation(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    # The brand also answered the follow-up, later.
    late = copy.deepcopy(fake.tweets[0])
    late.update(id="1880000000000000105", created_at="2026-01-05T08:30:00.000Z",
                referenced_tweets=[{"type": "replied_to", "id": FOLLOW_UP}])
    fake.tweets.append(late)
    fake.requests.clear()
    replies = await conn.replies(mentions)
    assert sorted((r.external_id, r.in_reply_to) for r in replies) == [
        (ANSWER, OP), ("1880000000000000105", FOLLOW_UP)]
    assert [r.query["query"] for r in fake.requests] == [f"conversation_id:{OP} (from:AcmeHelp)"]
    assert fake.requests[0].query["since_id"] == OP


async def test_replies_need_a_brand_tweet_after_the_mention(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    conn = make(url, session, clock)
    follow_up = next(m for m in (await conn.poll(None)).mentions if m.external_id == FOLLOW_UP)
    fake.tweets = [t for t in fake.tweets if t["id"] != ANSWER]
    assert await conn.replies([follow_up]) == []


async def test_retweets_are_sightings_of_the_original(x, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    original = next(t for t in fake.tweets if t["id"] == OP)
    fake.tweets.append({"id": "1880000000000000199", "text": "RT @jdoe: @AcmeHelp my order never arrived",
                        "author_id": "1102323399", "created_at": "2026-01-05T09:00:00.000Z",
                        "referenced_tweets": [{"type": "retweeted", "id": OP}]})
    fake.users["1102323399"] = {"id": "1102323399", "name": "Fan", "username": "fan"}
    default = await make(url, session, clock).poll(None)
    assert "1880000000000000199" not in {m.seen_as for m in default.mentions}  # -is:retweet
    page = await make(url, session, clock, include_retweets=True).poll(None)
    sightings = [m for m in page.mentions if m.seen_as]
    assert [(m.external_id, m.seen_as, m.author) for m in sightings] == [(OP, "1880000000000000199", "@jdoe")]
    assert sightings[0].text == original["text"]


def test_overlong_query_is_a_config_error(session, clock) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="512"):
        make("http://127.0.0.1:9", session, clock, query="acme " * 120)


async def test_burst_after_an_empty_first_poll_is_read_completely(x, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = x
    fake.tweets = []
    quiet = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    conn = make(url, session, quiet, max_results=10)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.tweets = tweets(22, 1)  # 22 tweets: three pages of 10
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == sorted(t["id"] for t in tweets(22, 1))
    assert fake.requests[1].query["start_time"] == "2026-01-05T08:00:00Z"
