"""FacebookConnector against a loopback fake Graph API (Page feed, comments, ratings, errors, usage headers)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._meta import appsecret_proof
from connectors.base import BrandView
from connectors.facebook import FacebookConfig, FacebookConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph, error_body
from tests.connectors.fake_social import Scripted

PAGE = "104000000000001"
POST = f"{PAGE}_200000000000001"
JANE, ANSWER, PAT = (
    "200000000000001_300000000000001", "200000000000001_300000000000002", "200000000000001_300000000000003"
)
VISITOR = f"{PAGE}_200000000000002"
BRANDS = [BrandView(name="acme", keywords=("acme",), handles=()), BrandView(name="globex", keywords=("globex",))]


@pytest.fixture
async def fb(aiohttp_server) -> AsyncIterator[tuple[FakeGraph, str]]:  # type: ignore[no-untyped-def]
    fake = FakeGraph()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> FacebookConnector:
    settings: dict[str, Any] = {"base_url": url, "access_token": PAGE_TOKEN, "page_id": PAGE,
                                "attribute_to": ["acme"], **config}
    return FacebookConnector("facebook", FacebookConfig(**settings), BRANDS, session, clock=clock)


def comment(n: int, minute: int, parent: str | None = None, author: str = "6000000000000001") -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"200000000000001_40000000000{n:04d}", "message": f"acme problem {n}",
        "created_time": datetime(2026, 1, 5, 9, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "from": {"id": author, "name": f"User {n}"}}
    if parent:
        item["parent"] = {"id": parent}
    return item


async def test_first_poll_maps_visitor_posts_comments_and_the_pages_answer(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    page = await make(url, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    # The Page's own posts and its answer are not mentions; the visitor post and two comments are.
    assert sorted(by_id) == sorted([VISITOR, JANE, PAT])
    jane = by_id[JANE]
    assert (jane.author, jane.text, jane.conversation_id, jane.in_reply_to) == (
        "Jane Doe", "My order never arrived and nobody answers", JANE, None)
    assert jane.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and jane.brands == ("acme",)
    assert jane.url.endswith("comment_id=300000000000001") and jane.raw["from"]["id"] == "5001000000000001"
    assert by_id[VISITOR].conversation_id == VISITOR and "refund" in by_id[VISITOR].text
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [(ANSWER, JANE, "Acme")]
    feed = fake.requests[0]
    assert feed.path == f"/v24.0/{PAGE}/feed" and feed.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert "access_token" not in feed.query  # the token never travels in a URL
    listing = next(r for r in fake.requests if r.path.endswith(f"{POST}/comments"))
    assert listing.query["filter"] == "stream" and listing.query["order"] == "reverse_chronological"


async def test_app_secret_signs_every_call(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    await make(url, session, clock, app_secret="s3cret-app").poll(None)
    assert {r.query.get("appsecret_proof") for r in fake.requests} == {appsecret_proof(PAGE_TOKEN, "s3cret-app")}


async def test_pages_feed_by_time_and_comments_by_cursor_down_to_the_mark(fb, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC))
    conn = make(url, session, clock, limit=2, overlap="0s", comments=True)
    first = await conn.poll(None)
    clock.advance(timedelta(hours=1))
    for n in range(1, 6):
        fake.add(POST, "comments", comment(n, n))
    post = next(p for p in fake.edges[(PAGE, "feed")] if p["id"] == POST)
    post["updated_time"] = "2026-01-05T09:05:00+0000"
    for n in range(1, 4):  # three visitor posts: two feed pages
        fake.add(PAGE, "feed", {"id": f"{PAGE}_21000000000000{n}", "message": f"acme visitor {n}",
                                "created_time": f"2026-01-05T09:1{n}:00+0000",
                                "from": {"id": f"70{n}", "name": f"V{n}"}})
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == sorted(
        [f"200000000000001_40000000000{n:04d}" for n in range(1, 6)]
        + [f"{PAGE}_21000000000000{n}" for n in range(1, 4)])
    feed_calls = [r for r in fake.requests if r.path.endswith("/feed")]
    assert len(feed_calls) >= 2
    assert "__paging_token" in feed_calls[1].query and "access_token" not in feed_calls[1].query
    comment_calls = [r for r in fake.requests if r.path.endswith(f"{POST}/comments")]
    assert [c.query.get("after") is not None for c in comment_calls] == [False, True, True]
    third = await conn.poll(second.cursor)
    assert third.mentions == []


async def test_quiet_posts_are_not_asked_for_comments(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    conn = make(url, session, clock, overlap="0s")
    first = await conn.poll(None)
    fake.requests.clear()
    await conn.poll(first.cursor)
    assert not [r for r in fake.requests if r.path.endswith("/comments")]  # no updated_time moved


async def test_a_full_sweep_finds_comments_on_posts_whose_updated_time_did_not_move(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    conn = make(url, session, clock, overlap="0s", full_sweep="1h")
    first = await conn.poll(None)
    fake.add(POST, "comments", comment(1, 59))  # updated_time of the post left as it was
    clock.advance(timedelta(minutes=2))
    assert (await conn.poll(first.cursor)).mentions == []  # not due yet
    clock.advance(timedelta(hours=1))
    later = await conn.poll(first.cursor)
    assert [m.external_id for m in later.mentions] == ["200000000000001_400000000000001"]


async def test_messenger_conversations_by_polling(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    conn = make(url, session, clock, feed=False, comments=False, messages=True, overlap="0s")
    page = await conn.poll(None)
    assert sorted(m.external_id for m in page.mentions) == ["m_001", "m_002"]
    dm = next(m for m in page.mentions if m.external_id == "m_002")
    assert (dm.author, dm.author_name, dm.conversation_id) == ("7000000000000001", "Dana Buyer",
                                                               f"dm:{PAGE}:7000000000000001")
    assert dm.raw["channel"] == "direct_message" and dm.brands == ("acme",)
    # The Page's message answers the customer's latest one before it.
    assert [(r.external_id, r.in_reply_to) for r in page.replies] == [("m_003", "m_002")]
    assert fake.requests[0].query["platform"] == "messenger"
    fake.add("t_10001", "messages", {"id": "m_004", "message": "thanks", "from": {"id": "7000000000000001"},
                                      "created_time": "2026-01-05T09:50:00+0000"})
    fake.edges[(PAGE, "conversations")][0]["updated_time"] = "2026-01-05T09:50:00+0000"
    fake.add(PAGE, "conversations", {"id": "t_quiet", "updated_time": "2026-01-05T08:00:00+0000"})
    fake.edges[(PAGE, "conversations")].reverse()  # newest first again
    fake.requests.clear()
    later = await conn.poll(page.cursor)
    assert [m.external_id for m in later.mentions] == ["m_004"]
    assert "/v24.0/t_quiet/messages" not in fake.paths()  # not updated since the mark


async def test_expired_token_is_an_auth_error_without_the_token(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = fb
    with pytest.raises(SourceAuthError, match="code 190/463 OAuthException") as info:
        await make(url, session, clock, access_token="EAAG-expired").poll(None)
    assert "EAAG-expired" not in str(info.value) and "fbtrace_id AbCdEfGhIjK" in str(info.value)


async def test_missing_permission_is_an_auth_error(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    fake.fail_next(f"/v24.0/{PAGE}/feed", Scripted(status=403, body=error_body(
        10, "(#10) This endpoint requires the 'pages_read_engagement' permission")))
    with pytest.raises(SourceAuthError, match="lacks a permission"):
        await make(url, session, clock).poll(None)


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
async def test_rate_limit_codes_back_off(fb, session, clock, code) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    buc = json.dumps({PAGE: [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                              "estimated_time_to_regain_access": 7}]})
    fake.fail_next(f"/v24.0/{PAGE}/feed", Scripted(status=400,
                                                   body=error_body(code, "(#4) Application request limit reached"),
                                                   headers={"X-Business-Use-Case-Usage": buc}))
    with pytest.raises(TransientSourceError, match="rate limit") as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 7 * 60


async def test_rate_limit_without_an_estimate_waits_ten_minutes(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    fake.fail_next(f"/v24.0/{PAGE}/feed", Scripted(status=403, body=error_body(4, "limit", type_="OAuthException")))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 600


async def test_usage_near_the_limit_pauses_before_meta_blocks_us(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    fake.usage = {"call_count": 93, "total_cputime": 10, "total_time": 12}
    conn = make(url, session, clock)
    first = await conn.poll(None)
    assert [r.path for r in fake.requests] == [f"/v24.0/{PAGE}/feed"]  # stopped after the first answer
    assert {m.external_id for m in first.mentions} == {VISITOR}  # what it read is kept
    fake.requests.clear()
    paused = await conn.poll(first.cursor)
    assert fake.requests == [] and paused.cursor == first.cursor and paused.mentions == []
    fake.usage = {"call_count": 20, "total_cputime": 10, "total_time": 12}
    clock.advance(timedelta(minutes=11))
    resumed = await conn.poll(first.cursor)
    assert JANE in {m.external_id for m in resumed.mentions}


async def test_business_use_case_usage_counts_too(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    fake.buc = {PAGE: [{"type": "pages", "call_count": 95, "total_cputime": 3, "total_time": 4,
                        "estimated_time_to_regain_access": 30}]}
    conn = make(url, session, clock)
    await conn.poll(None)
    assert conn.paused_until == clock.now() + timedelta(minutes=30)


async def test_ratings_on_an_old_version_become_reviews(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    page = await make(url, session, clock, ratings=True, feed=False, comments=False, limit=1).poll(None)
    (review,) = page.mentions  # first poll: the newest page only
    assert review.external_id == "900000000000001" and review.channel == "review"
    assert review.raw["recommendation_type"] == "negative" and review.brands == ("acme",)
    assert fake.requests[0].path == f"/v21.0/{PAGE}/ratings"


async def test_ratings_ids_fall_back_to_reviewer_and_time(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    page = await make(url, session, clock, ratings=True, feed=False, comments=False, limit=5).poll(None)
    ids = {m.external_id: m for m in page.mentions}
    old = ids[f"rating:5005000000000001:{int(datetime(2026, 1, 4, 7, tzinfo=UTC).timestamp())}"]
    assert old.raw["rating"] == 5


async def test_ratings_retired_in_new_versions_are_logged_not_fatal(fb, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    _, url = fb
    page = await make(url, session, clock, ratings=True, ratings_api_version="v24.0").poll(None)
    assert page.mentions and "recommendations are not served by Graph v24.0" in caplog.text


async def test_malformed_items_are_skipped_and_the_cursor_moves(fb, session, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC))
    conn = make(url, session, clock, overlap="0s")
    first = await conn.poll(None)
    clock.advance(timedelta(hours=1))
    no_author = comment(7, 7)
    del no_author["from"]
    bad_time = comment(8, 8)
    bad_time["created_time"] = "soon"
    fake.edges[(POST, "comments")][:0] = [comment(9, 9), no_author, bad_time, "not an object"]  # type: ignore[list-item]
    next(p for p in fake.edges[(PAGE, "feed")] if p["id"] == POST)["updated_time"] = "2026-01-05T09:10:00+0000"
    second = await conn.poll(first.cursor)
    assert [m.external_id for m in second.mentions] == ["200000000000001_400000000000009"]
    assert conn.malformed == 3 and "pages_read_user_content" in caplog.text
    assert json.loads(second.cursor)["streams"]["comments"]["at"] == "2026-01-05T09:09:00+00:00"


async def test_bad_json_and_server_errors_are_transient(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    fake.fail_next(f"/v24.0/{PAGE}/feed", Scripted(body='{"data": ['))
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next(f"/v24.0/{PAGE}/feed", Scripted(status=500, body=error_body(2, "Service temporarily unavailable",
                                                                                type_="OAuthException")))
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next(
        f"/v24.0/{PAGE}/feed", Scripted(status=400, body=error_body(100, "Unknown path", "GraphMethodException"))
    )
    with pytest.raises(SourceError, match="code 100"):
        await make(url, session, clock).poll(None)


async def test_replies_find_the_pages_later_answer(fb, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    conn = make(url, session, clock)
    mentions = [m for m in (await conn.poll(None)).mentions if m.external_id in (PAT, VISITOR)]
    fake.edges[(VISITOR, "comments")] = [
        {"id": "200000000000002_500000000000001", "message": "We are on it, Sam.",
         "created_time": "2026-01-05T09:30:00+0000", "from": {"id": PAGE, "name": "Acme"}}]
    fake.edges[(PAT, "comments")] = [
        {"id": "200000000000001_500000000000002", "message": "Thanks Pat!", "created_time": "2026-01-05T09:31:00+0000",
         "from": {"id": PAGE, "name": "Acme"}, "parent": {"id": PAT}}]
    replies = await conn.replies(mentions)
    assert sorted((r.in_reply_to, r.external_id) for r in replies) == sorted([
        (PAT, "200000000000001_500000000000002"), (VISITOR, "200000000000002_500000000000001")])
    assert {r.query["order"] for r in fake.requests[-2:]} == {"chronological"}


def test_config_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match="access_token"):
        FacebookConfig(page_id=PAGE)
    with pytest.raises(ValueError, match="page_id"):
        FacebookConfig(access_token="t")
    with pytest.raises(ValueError, match="numeric id"):
        FacebookConfig(access_token="t", page_id="acme-page")
    with pytest.raises(ValueError, match="v24.0"):
        FacebookConfig(access_token="t", page_id=PAGE, api_version="24")
    assert FacebookConfig(enabled=False).page_id == ""


def test_same_graph_answer_is_not_mutated(fb) -> None:  # type: ignore[no-untyped-def]
    fake, _ = fb
    assert copy.deepcopy(fake.edges) == fake.edges


async def test_a_deleted_post_is_skipped_not_fatal(fb, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = fb
    caplog.set_level(logging.INFO)
    fake.gone.add(f"{PAGE}_200000000000003")
    page = await make(url, session, clock).poll(None)
    assert JANE in {m.external_id for m in page.mentions} and "is gone" in caplog.text
