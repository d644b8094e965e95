"""InstagramConnector against the loopback fake Graph API (media comments, replies, tags, mentions, errors)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors.base import BrandView
from connectors.instagram import InstagramConfig, InstagramConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph, error_body
from tests.connectors.fake_social import Scripted

IG = "17841400000000001"
MEDIA = "17900000000000001"
JDOE, ANSWER, FOLLOW_UP, FAN = "17850000000000001", "17850000000000002", "17850000000000003", "17850000000000004"
BRANDS = [
    BrandView(name="acme", keywords=("acme",), handles=("@acme",)), BrandView(name="globex", keywords=("globex",))
]


@pytest.fixture
async def ig(aiohttp_server) -> AsyncIterator[tuple[FakeGraph, str]]:  # type: ignore[no-untyped-def]
    fake = FakeGraph("instagram")
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> InstagramConnector:
    settings: dict[str, Any] = {"base_url": url, "access_token": PAGE_TOKEN, "ig_user_id": IG, "username": "acme",
                                "attribute_to": ["acme"], **config}
    return InstagramConnector("instagram", InstagramConfig(**settings), BRANDS, session, clock=clock)


def comment(n: int, minute: int) -> dict[str, Any]:
    return {"id": f"1786000000000{n:04d}", "text": f"acme question {n}",
            "timestamp": datetime(2026, 1, 5, 9, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "username": f"user{n}", "from": {"id": f"62000000000{n:04d}", "username": f"user{n}"}}


async def test_first_poll_maps_comments_replies_and_tags(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    page = await make(url, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert sorted(by_id) == sorted([JDOE, FOLLOW_UP, FAN, "17910000000000001"])
    jdoe = by_id[JDOE]
    assert (jdoe.author, jdoe.conversation_id, jdoe.in_reply_to, jdoe.brands) == ("@jdoe", JDOE, None, ("acme",))
    assert jdoe.url == f"https://www.instagram.com/p/DBfake0001/c/{JDOE}/" and jdoe.raw["media_id"] == MEDIA
    assert (by_id[FOLLOW_UP].in_reply_to, by_id[FOLLOW_UP].conversation_id) == (JDOE, JDOE)
    tagged = by_id["17910000000000001"]
    assert tagged.author == "@influencer" and tagged.brands == ("acme",) and tagged.raw["seen_because"] == "tagged"
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [(ANSWER, JDOE, "@acme")]
    # Media with no comment are not asked; the token travels in the header only.
    assert "/v24.0/17900000000000002/comments" not in fake.paths()
    assert all("access_token" not in r.query for r in fake.requests)


async def test_only_media_whose_comment_count_moved_are_read_again(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    conn = make(url, session, clock, overlap="0s", limit=2)
    first = await conn.poll(None)
    fake.requests.clear()
    quiet = await conn.poll(first.cursor)
    assert quiet.mentions == [] and not [p for p in fake.paths() if p.endswith("/comments")]
    for n in range(1, 6):
        fake.add(MEDIA, "comments", comment(n, n))
    fake.edges[(IG, "media")][1]["comments_count"] = 9
    fake.requests.clear()
    busy = await conn.poll(quiet.cursor)
    assert sorted(m.external_id for m in busy.mentions) == [f"1786000000000{n:04d}" for n in range(1, 6)]
    assert [r.query.get("after") is not None for r in fake.requests if r.path.endswith("/comments")] == [
        False, True, True, True]  # five new comments and the old ones at two a page: read until the last page


async def test_a_full_sweep_finds_a_comment_hidden_by_a_deletion(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    conn = make(url, session, clock, overlap="0s", tags=False)
    first = await conn.poll(None)
    comments = fake.edges[(MEDIA, "comments")]
    comments.remove(next(c for c in comments if c["id"] == FAN))  # one deleted...
    fake.add(MEDIA, "comments", comment(1, 1))  # ...one new: comments_count does not move
    clock.advance(timedelta(minutes=5))
    assert (await conn.poll(first.cursor)).mentions == []
    clock.advance(timedelta(hours=1))
    assert [m.external_id for m in (await conn.poll(first.cursor)).mentions] == ["17860000000000001"]


async def test_tags_page_down_to_the_mark(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    conn = make(url, session, clock, overlap="0s", limit=1, comments=False)
    first = await conn.poll(None)
    for n in range(1, 4):
        fake.add(IG, "tags", {"id": f"1791000000000010{n}", "caption": f"wearing @acme {n}", "username": f"t{n}",
                              "timestamp": f"2026-01-05T09:0{n}:00+0000", "permalink": "https://www.instagram.com/p/x/"})
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"1791000000000010{n}" for n in range(1, 4)]
    assert (await conn.poll(second.cursor)).mentions == []


async def test_an_empty_first_poll_still_sets_a_position(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    fake.edges[(IG, "tags")] = []
    conn = make(url, session, clock, overlap="0s", limit=1, comments=False)
    first = await conn.poll(None)
    assert json.loads(first.cursor)["streams"]["tags"]["at"] == "2026-01-05T10:00:00+00:00"
    for n in range(1, 4):
        fake.add(IG, "tags", {"id": f"1791000000000020{n}", "caption": "hi @acme", "username": f"t{n}",
                              "timestamp": f"2026-01-05T10:0{n}:00+0000"})
    clock.advance(timedelta(minutes=10))
    second = await conn.poll(first.cursor)
    assert len(second.mentions) == 3  # the whole burst, not only its newest page


async def test_webhook_mention_is_fetched_through_mentioned_media(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    mention = await make(url, session, clock).mentioned("17920000000000001", None)
    assert mention is not None and mention.external_id == "17920000000000001" and mention.author == "@angry_customer"
    assert mention.brands == ("acme",) and mention.raw["seen_because"] == "mentioned"
    assert fake.requests[-1].query["fields"].startswith("mentioned_media.media_id(17920000000000001)")


async def test_replies_find_the_accounts_later_answer(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    conn = make(url, session, clock)
    mentions = [m for m in (await conn.poll(None)).mentions if m.external_id in (JDOE, FOLLOW_UP, "17910000000000001")]
    replies = await conn.replies(mentions)
    # 08:15 answers the 08:00 comment; nothing by the account after the 08:20 follow-up; tagged media are not asked.
    assert [(r.in_reply_to, r.external_id) for r in replies] == [(JDOE, ANSWER)]
    assert fake.paths()[-1] == f"/v24.0/{JDOE}/replies"


async def test_auth_and_rate_limit_errors(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    with pytest.raises(SourceAuthError, match="code 190"):
        await make(url, session, clock, access_token="IGQ-expired").poll(None)
    fake.fail_next(f"/v24.0/{IG}/media", Scripted(status=400, body=error_body(
        80002, "There have been too many calls to this Instagram account.")))
    with pytest.raises(TransientSourceError, match="rate limit"):
        await make(url, session, clock).poll(None)
    fake.fail_next(f"/v24.0/{IG}/media", Scripted(status=400, body=error_body(
        10, "Application does not have permission for this action", subcode=2207051)))
    with pytest.raises(SourceAuthError, match="permission"):
        await make(url, session, clock).poll(None)


async def test_usage_pause_stops_between_media(ig, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    fake.buc = {IG: [{"type": "instagram", "call_count": 97, "total_cputime": 1, "total_time": 1,
                      "estimated_time_to_regain_access": 0}]}
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert fake.paths() == [f"/v24.0/{IG}/media"] and page.mentions == []
    assert json.loads(page.cursor)["counts"] == {}  # unread media stay unread, to be read after the pause
    fake.requests.clear()
    assert (await conn.poll(page.cursor)).mentions == [] and fake.requests == []


async def test_malformed_comments_are_skipped(ig, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = ig
    broken = comment(1, 1)
    del broken["from"], broken["username"]
    late = comment(2, 2)
    late["timestamp"] = None
    fake.edges[(MEDIA, "comments")][:0] = [broken, late, 42, comment(3, 3)]  # type: ignore[list-item]
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert "17860000000000003" in {m.external_id for m in page.mentions} and conn.malformed == 3
    assert "17860000000000001" in caplog.text


def test_config_needs_token_and_account() -> None:
    with pytest.raises(ValueError, match="access_token"):
        InstagramConfig(ig_user_id=IG)
    with pytest.raises(ValueError, match="ig_user_id"):
        InstagramConfig(access_token="t")
    with pytest.raises(ValueError, match="numeric IG User id"):
        InstagramConfig(access_token="t", ig_user_id="@acme")
