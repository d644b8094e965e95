"""LinkedInConnector against the loopback fake Community Management API (posts, comments, versions, errors)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors.base import BrandView
from connectors.linkedin import LinkedInConfig, LinkedInConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from tests.connectors.fake_linkedin import TOKEN, FakeLinkedIn
from tests.connectors.fake_social import Scripted

ORG = "2414183"
POST = "urn:li:ugcPost:7100000000000000001"
ASK = "urn:li:comment:(urn:li:activity:7100000000000000001,7100000000000001001)"
ANSWER = "urn:li:comment:(urn:li:activity:7100000000000000001,7100000000000001002)"
CONGRATS = "urn:li:comment:(urn:li:activity:7100000000000000001,7100000000000001003)"
BRANDS = [BrandView(name="acme", keywords=("acme",)), BrandView(name="globex", keywords=("globex",))]


@pytest.fixture
async def li(aiohttp_server) -> AsyncIterator[tuple[FakeLinkedIn, str]]:  # type: ignore[no-untyped-def]
    fake = FakeLinkedIn()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> LinkedInConnector:
    settings: dict[str, Any] = {"base_url": url, "access_token": TOKEN, "organization_id": ORG,
                                "attribute_to": ["acme"], **config}
    return LinkedInConnector("linkedin", LinkedInConfig(**settings), BRANDS, session, clock=clock)


def comment(n: int, minute: int, actor: str = "urn:li:person:New") -> dict[str, Any]:
    urn = f"urn:li:comment:(urn:li:activity:7100000000000000001,71000000000000020{n:02d})"
    return {"actor": f"{actor}{n}", "id": urn[-20:-1], "$URN": urn, "commentUrn": urn,
            "created": {"time": int(datetime(2026, 1, 5, 10, minute, tzinfo=UTC).timestamp() * 1000)},
            "message": {"text": f"acme question {n}"}, "object": "urn:li:activity:7100000000000000001"}


async def test_first_poll_reads_comments_and_the_organisations_answer(li, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = li
    page = await make(url, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == sorted([ASK, CONGRATS])
    ask = by_id[ASK]
    assert (ask.author, ask.conversation_id, ask.in_reply_to, ask.brands) == ("urn:li:person:K9xQwErTy1", ASK, None,
                                                                             ("acme",))
    assert ask.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and "SSO" in ask.text
    assert ask.url.startswith(f"https://www.linkedin.com/feed/update/{POST}?commentUrn=urn%3Ali%3Acomment%3A")
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [
        (ANSWER, ASK, "urn:li:organization:2414183")]
    posts = fake.requests[0]
    assert posts.path == "/rest/posts" and posts.query["q"] == "author"
    assert posts.query["author"] == f"urn:li:organization:{ORG}"
    assert posts.headers["LinkedIn-Version"] == "202511" and posts.headers["X-Restli-Protocol-Version"] == "2.0.0"
    # URNs travel percent-encoded, in the query and as a path segment.
    assert "author=urn%3Ali%3Aorganization%3A2414183" in fake.raw_paths[0]
    assert any("/socialActions/urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity" in p for p in fake.raw_paths)


async def test_pages_and_takes_only_new_comments(li, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = li
    conn = make(url, session, clock, count=2, overlap="0s")
    first = await conn.poll(None)
    fake.comments[POST] += [comment(n, n) for n in range(1, 6)]
    clock.advance(timedelta(minutes=10))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == sorted(c["$URN"] for c in fake.comments[POST][2:])
    starts = [r.query["start"] for r in fake.requests if r.path == f"/rest/socialActions/{POST}/comments"]
    assert starts[-4:] == ["0", "2", "4", "6"]  # seven comments, two a page
    assert (await conn.poll(second.cursor)).mentions == []


async def test_empty_first_poll_sets_a_position(li, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = li
    fake.comments[POST] = []
    first = await make(url, session, clock).poll(None)
    assert json.loads(first.cursor)["streams"]["comments"]["at"] == clock.now().isoformat()


async def test_errors(li, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = li
    with pytest.raises(SourceAuthError, match="INVALID_ACCESS_TOKEN") as info:
        await make(url, session, clock, access_token="AQX-expired").poll(None)
    assert "AQX-expired" not in str(info.value)
    fake.fail_next("/rest/posts", Scripted(status=403, body=json.dumps(
        {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
         "message": "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20240501"})))
    with pytest.raises(SourceAuthError, match="ACCESS_DENIED"):
        await make(url, session, clock).poll(None)
    fake.fail_next("/rest/posts", Scripted(status=429, body=json.dumps(
        {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Resource level throttle APPLICATION DAY limit"})))
    with pytest.raises(TransientSourceError, match="rate limit") as limited:
        await make(url, session, clock).poll(None)
    assert limited.value.retry_after == 3600
    fake.fail_next("/rest/posts", Scripted(status=429, body="{}", headers={"Retry-After": "120"}))
    with pytest.raises(TransientSourceError) as told:
        await make(url, session, clock).poll(None)
    assert told.value.retry_after == 120
    with pytest.raises(SourceError, match="linkedin_version 202401 is not served"):
        await make(url, session, clock, linkedin_version="202401").poll(None)


async def test_deleted_post_and_malformed_comments_are_skipped(li, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = li
    del fake.comments["urn:li:share:7100000000000000002"]
    no_time = comment(1, 1)
    del no_time["created"]
    no_urn = comment(2, 2)
    del no_urn["$URN"], no_urn["commentUrn"]
    fake.comments[POST] = [no_time, no_urn, "x", comment(3, 3)]  # type: ignore[list-item]
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == [comment(3, 3)["$URN"]] and conn.malformed == 3
    assert "created.time" in caplog.text


async def test_replies_read_the_thread(li, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = li
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    fake.comments[CONGRATS] = [{**comment(9, 30, actor="urn:li:organization:"), "actor": f"urn:li:organization:{ORG}",
                                "parentComment": CONGRATS}]
    replies = await conn.replies(mentions)
    assert sorted((r.in_reply_to, r.external_id) for r in replies) == sorted(
        [(ASK, ANSWER), (CONGRATS, comment(9, 30)["$URN"])])


def test_config() -> None:
    with pytest.raises(ValueError, match="access_token"):
        LinkedInConfig(organization_id=ORG)
    with pytest.raises(ValueError, match="organization_id"):
        LinkedInConfig(access_token="t")
    with pytest.raises(ValueError, match="YYYYMM"):
        LinkedInConfig(access_token="t", organization_id=ORG, linkedin_version="2025-11")
    assert LinkedInConfig(access_token="t", organization_id=f"urn:li:organization:{ORG}").organization_id == ORG
