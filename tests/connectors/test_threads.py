"""ThreadsConnector against the loopback fake (graph.threads.net keyword search, conversations, errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors.base import BrandView
from connectors.threads import ThreadsConfig, ThreadsConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph, error_body
from tests.connectors.fake_social import Scripted

BRANDS = [BrandView(name="acme", keywords=("acme",)), BrandView(name="globex", keywords=("globex",))]
ROOT, PAT, ANSWER, OLA = "18060000000000001", "18070000000000001", "18070000000000002", "18070000000000003"


@pytest.fixture
async def th(aiohttp_server) -> AsyncIterator[tuple[FakeGraph, str]]:  # type: ignore[no-untyped-def]
    fake = FakeGraph("threads")
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> ThreadsConnector:
    settings: dict[str, Any] = {"base_url": url, "access_token": PAGE_TOKEN, "username": "acme", **config}
    return ThreadsConnector("threads", ThreadsConfig(**settings), BRANDS, session, clock=clock)


def post(n: int, minute: int, text: str = "acme broke again") -> dict[str, Any]:
    return {"id": f"1808000000000{n:04d}", "text": f"{text} {n}", "username": f"u{n}", "media_type": "TEXT_POST",
            "timestamp": datetime(2026, 1, 5, 10, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": f"https://www.threads.net/@u{n}/post/X{n}"}


async def test_first_poll_searches_every_keyword_and_reads_the_brands_conversations(th, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = th
    page = await make(url, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == sorted(["18050000000000003", "18050000000000002", "18050000000000001", PAT, OLA])
    assert by_id["18050000000000003"].brands == ("acme",) and by_id["18050000000000001"].brands == ("globex",)
    pat = by_id[PAT]
    # A reply under the brand's own thread is about the brand even without its name.
    assert (pat.author, pat.in_reply_to, pat.conversation_id, pat.brands) == ("@pat_w", ROOT, ROOT, ("acme",))
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [(ANSWER, PAT, "@acme")]
    searches = [r for r in fake.requests if r.path == "/v1.0/keyword_search"]
    assert [r.query["q"] for r in searches] == ["acme", "globex"]
    assert searches[0].query["search_type"] == "RECENT" and "since" not in searches[0].query
    assert fake.paths()[-2:] == ["/v1.0/me/threads", f"/v1.0/{ROOT}/conversation"]


async def test_later_polls_search_since_the_mark_and_page(th, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = th
    conn = make(url, session, clock, overlap="0s", limit=2, search=["acme"], replies_to_brand=False)
    first = await conn.poll(None)
    for n in range(1, 6):
        fake.add("keyword_search", "posts", post(n, n))
    clock.advance(timedelta(minutes=10))
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"1808000000000{n:04d}" for n in range(1, 6)]
    since = int(datetime(2026, 1, 5, 9, 20, tzinfo=UTC).timestamp())
    assert [r.query.get("since") for r in fake.requests] == [str(since)] * 3  # three pages of two
    assert (await conn.poll(second.cursor)).mentions == []


async def test_empty_search_starts_from_the_poll_time(th, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = th
    conn = make(url, session, clock, overlap="0s", limit=2, search=["nothing-matches"], replies_to_brand=False)
    first = await conn.poll(None)
    fake.requests.clear()
    await conn.poll(first.cursor)
    assert fake.requests[0].query["since"] == str(int(clock.now().timestamp()))


async def test_replies_prefer_the_direct_answer(th, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = th
    conn = make(url, session, clock)
    mentions = [m for m in (await conn.poll(None)).mentions if m.external_id in (PAT, OLA)]
    fake.edges[(ROOT, "conversation")].append(
        {"id": "18070000000000004", "text": "Ola, DM us too", "username": "acme",
         "timestamp": "2026-01-05T08:40:00+0000", "replied_to": {"id": OLA}, "root_post": {"id": ROOT}})
    replies = await conn.replies(mentions)
    assert sorted((r.in_reply_to, r.external_id) for r in replies) == [(PAT, ANSWER), (OLA, "18070000000000004")]


async def test_errors(th, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = th
    with pytest.raises(SourceAuthError, match="code 190"):
        await make(url, session, clock, access_token="TH-expired").poll(None)
    fake.fail_next("/v1.0/keyword_search", Scripted(status=400, body=error_body(
        613, "Calls to this api have exceeded the rate limit.", type_="THApiException")))
    with pytest.raises(TransientSourceError, match="rate limit"):
        await make(url, session, clock).poll(None)
    fake.fail_next("/v1.0/keyword_search", Scripted(status=403, body=error_body(
        10, "Application does not have permission for this action", type_="THApiException")))
    with pytest.raises(SourceAuthError, match="permission"):
        await make(url, session, clock).poll(None)


async def test_usage_pause_and_malformed_posts(th, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = th
    fake.edges[("keyword_search", "posts")][:0] = [{"id": "1", "text": "acme", "timestamp": "2026-01-05T09:59:00+0000"},
                                                    {"text": "acme no id", "username": "x"}]
    fake.usage = {"call_count": 99, "total_cputime": 0, "total_time": 0}
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert fake.paths() == ["/v1.0/keyword_search"] and conn.malformed == 2 and "no username" in caplog.text
    assert "18050000000000003" in {m.external_id for m in page.mentions}


def test_config() -> None:
    with pytest.raises(ValueError, match="access_token"):
        ThreadsConfig(username="acme")
    with pytest.raises(ValueError, match="username"):
        ThreadsConfig(access_token="t")
    with pytest.raises(ValueError, match="search_mode"):
        ThreadsConfig(access_token="t", username="a", search_mode="FUZZY")
