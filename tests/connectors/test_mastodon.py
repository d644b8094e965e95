"""MastodonConnector against a loopback fake Mastodon (payloads shaped as in apis.md §3)."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.mastodon import MastodonConfig, MastodonConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from tests.connectors.conftest import NOW, TOKEN
from tests.connectors.fake_mastodon import Scripted, load_fixture

ALICE, BOB, REPLY, OWN_POST, CAROL, DAVE = (f"1100000000000001{n:02d}" for n in range(1, 7))


def connector(
    base_url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock, **config: Any
) -> MastodonConnector:
    settings: dict[str, Any] = {"base_url": base_url, "access_token": TOKEN, "search": [], **config}
    return MastodonConnector("fedi", MastodonConfig(**settings), brands, session, clock=clock)


def numbered(count: int, start: int, tag: str = "acme") -> list[dict[str, Any]]:
    """`count` customer statuses with ids start, start+1, ... (all the same id length)."""
    template = load_fixture("statuses.json")[1]
    statuses = []
    for n in range(start, start + count):
        status = copy.deepcopy(template)
        status.update(id=f"1200000000000{n:05d}", content=f"<p>acme problem number {n}</p>",
                      tags=[{"name": tag, "url": f"https://mastodon.example/tags/{tag}"}])
        statuses.append(status)
    return statuses


async def test_first_poll_of_a_hashtag(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    page = await connector(url, brands, session, clock, hashtags=["#Acme"]).poll(None)
    # Customers' statuses are mentions; the brand's reply is a Reply; its own post is neither.
    assert sorted(m.external_id for m in page.mentions) == sorted([ALICE, BOB, CAROL, DAVE])
    assert [(r.external_id, r.in_reply_to) for r in page.replies] == [(REPLY, ALICE)]
    assert json.loads(page.cursor or "") == {"v": 1, "streams": {"tag:acme": DAVE}}
    request = server.requests[0]
    assert request.path == "/api/v1/timelines/tag/Acme"
    assert request.query["limit"] == "40" and "min_id" not in request.query
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["User-Agent"].startswith("listener/")


async def test_pages_forward_with_min_id(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(numbered(3, 1))
    conn = connector(url, brands, session, clock, hashtags=["acme"], limit=2)
    first = await conn.poll(None)
    # The first run takes the newest page only: no backfill.
    assert sorted(m.external_id for m in first.mentions) == ["120000000000000002", "120000000000000003"]
    server.add_statuses(numbered(5, 4))
    server.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"1200000000000{n:05d}" for n in range(4, 9)]
    assert [r.query.get("min_id") for r in server.requests] == [
        "120000000000000003", "120000000000000005", "120000000000000007"
    ]
    assert json.loads(second.cursor or "")["streams"] == {"tag:acme": "120000000000000008"}
    server.requests.clear()
    third = await conn.poll(second.cursor)
    assert third.mentions == [] and third.cursor == second.cursor
    assert server.requests[0].query["min_id"] == "120000000000000008"


async def test_max_pages_bounds_catch_up(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(numbered(1, 1))
    conn = connector(url, brands, session, clock, hashtags=["acme"], limit=2, max_pages=2)
    first = await conn.poll(None)
    server.add_statuses(numbered(6, 2))
    second = await conn.poll(first.cursor)
    third = await conn.poll(second.cursor)
    assert len(second.mentions) == 4 and len(third.mentions) == 2
    assert not {m.external_id for m in second.mentions} & {m.external_id for m in third.mentions}


async def test_search_and_notifications_each_keep_their_position(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    server.notifications = load_fixture("notifications.json")
    # search defaults to the brands' keywords: acme, アクメ, globex.
    conn = connector(url, brands, session, clock, search=None, notifications=True)
    page = await conn.poll(None)
    streams = json.loads(page.cursor or "")["streams"]
    assert streams == {"search:acme": DAVE, "search:アクメ": DAVE, "notifications": "34975862"}
    by_path = {(r.path, r.query.get("q")): r.query for r in server.requests}
    assert by_path[("/api/v2/search", "acme")]["type"] == "statuses"
    assert by_path[("/api/v1/notifications", None)].getall("types[]") == ["mention"]
    ids = {m.external_id for m in page.mentions}
    assert {"110000000000000201", "110000000000000202"} <= ids  # from notifications
    assert {ALICE, BOB, CAROL, DAVE} <= ids  # from search
    server.requests.clear()
    await conn.poll(page.cursor)
    assert {(r.path, r.query.get("q")): r.query.get("min_id") for r in server.requests} == {
        ("/api/v2/search", "acme"): DAVE,
        ("/api/v2/search", "アクメ"): DAVE,
        ("/api/v2/search", "globex"): None,  # nothing found yet, so no position
        ("/api/v1/notifications", None): "34975862",
    }


async def test_empty_results(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(numbered(1, 1, tag="other"))
    page = await connector(url, brands, session, clock, hashtags=["other", "neverused"], search=["zzz"]).poll(None)
    assert [m.external_id for m in page.mentions] == ["120000000000000001"]
    assert page.replies == []
    # "neverused" answers 404 (no such hashtag) and "zzz" finds nothing: no position, no error.
    assert json.loads(page.cursor or "")["streams"] == {"tag:other": "120000000000000001"}


async def test_429_uses_the_reset_header(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    reset = (NOW + timedelta(seconds=95)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    server.fail_next("/api/v1/timelines/tag", Scripted(
        status=429, body='{"error":"Too many requests"}',
        headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    ))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock, hashtags=["acme"]).poll(None)
    assert info.value.retry_after == 95.0
    assert "HTTP 429" in str(info.value)


async def test_used_up_window_stops_further_requests(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    server.remaining = 1  # the next answer says 0 calls remain
    page = await connector(url, brands, session, clock, hashtags=["acme", "support"], search=["acme"]).poll(None)
    assert len(server.requests) == 1  # the second and third streams wait for the next window
    assert page.mentions  # what was fetched is kept, with its position
    assert list(json.loads(page.cursor or "")["streams"]) == ["search:acme"]


async def test_401_is_an_auth_error_without_the_token(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = fake
    conn = MastodonConnector(
        "fedi",
        MastodonConfig.model_validate(
            {"base_url": url, "access_token": "wrong-token-999", "hashtags": ["acme"], "search": []}
        ),
        brands, session, clock=clock,
    )
    with pytest.raises(SourceAuthError) as info:
        await conn.poll(None)
    assert "HTTP 401" in str(info.value) and "wrong-token-999" not in str(info.value)


@pytest.mark.parametrize(("status", "headers", "retry_after"), [(503, {"Retry-After": "30"}, 30.0), (500, {}, None)])
async def test_5xx_is_transient(fake, brands, session, clock, status, headers, retry_after) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.fail_next("/api/v1/timelines/tag", Scripted(status=status, body="<html>oops</html>", headers=headers))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock, hashtags=["acme"]).poll(None)
    assert info.value.retry_after == retry_after


async def test_timeout(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.fail_next("/api/v1/timelines/tag", Scripted(body="[]", delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await connector(url, brands, session, clock, hashtags=["acme"], timeout="50ms").poll(None)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/timelines/tag", '[{"id": "1", "content": '),  # truncated
        ("/api/v1/timelines/tag", '{"error": "not a list"}'),  # wrong shape
        ("/api/v2/search", '{"accounts": [], "statuses": "nope"}'),
    ],
)
async def test_malformed_body(fake, brands, session, clock, path, body) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.fail_next(path, Scripted(body=body))
    search = ["acme"] if path == "/api/v2/search" else []
    hashtags = ["acme"] if path != "/api/v2/search" else []
    with pytest.raises(MalformedResponseError):
        await connector(url, brands, session, clock, hashtags=hashtags, search=search).poll(None)


async def test_malformed_statuses_are_skipped_and_counted(
    fake, brands, session, clock, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    good = numbered(1, 1)
    bad = numbered(1, 2)[0]
    bad["account"] = None
    bad_time = {**numbered(1, 3)[0], "created_at": "yesterday"}
    server.add_statuses([*good, bad, bad_time])
    conn = connector(url, brands, session, clock, hashtags=["acme"])
    caplog.set_level(logging.WARNING, logger="connectors.mastodon")
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["120000000000000001"]
    assert conn.malformed == 2
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "'120000000000000002'" in logged and "'120000000000000003'" in logged
    # The page position still moves past them: they would never parse on a later poll.
    assert json.loads(page.cursor or "")["streams"]["tag:acme"] == "120000000000000003"


async def test_boosts_map_to_the_boosted_status(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    original = load_fixture("statuses.json")[0]
    boost = {
        "id": "110000000000000999", "created_at": "2026-01-05T09:00:00.000Z", "content": "", "tags": original["tags"],
        "account": {"id": "5", "username": "fan", "acct": "fan"}, "reblog": original,
    }
    server.add_statuses([boost])
    page = await connector(url, brands, session, clock, hashtags=["acme"]).poll(None)
    assert [m.external_id for m in page.mentions] == [ALICE]
    assert json.loads(page.cursor or "")["streams"]["tag:acme"] == "110000000000000999"


async def test_replies_via_context(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    statuses = load_fixture("statuses.json")
    server.add_statuses(statuses)
    # Bob's thread: a customer follow-up, then the brand answers the follow-up.
    follow_up = {**copy.deepcopy(statuses[1]), "id": "110000000000000110", "in_reply_to_id": BOB,
                 "created_at": "2026-01-05T08:10:00.000Z"}
    brand_late = {**copy.deepcopy(statuses[2]), "id": "110000000000000111", "in_reply_to_id": "110000000000000110",
                  "created_at": "2026-01-05T08:50:00.000Z"}
    server.add_statuses([follow_up, brand_late])
    conn = connector(url, brands, session, clock, hashtags=["acme"])
    page = await conn.poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    server.requests.clear()
    replies = await conn.replies([by_id[ALICE], by_id[BOB], by_id[CAROL]])
    assert [(r.external_id, r.in_reply_to) for r in replies] == [
        (REPLY, ALICE),  # direct reply
        ("110000000000000111", BOB),  # the brand answered further down the thread
    ]
    assert [r.path for r in server.requests] == [f"/api/v1/statuses/{i}/context" for i in (ALICE, BOB, CAROL)]


async def test_direct_reply_wins_over_an_earlier_one_to_someone_else(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    statuses = load_fixture("statuses.json")
    bystander = {**copy.deepcopy(statuses[1]), "id": "110000000000000120", "in_reply_to_id": ALICE,
                 "created_at": "2026-01-05T08:02:00.000Z"}
    to_bystander = {**copy.deepcopy(statuses[2]), "id": "110000000000000121", "in_reply_to_id": "110000000000000120",
                    "created_at": "2026-01-05T08:10:00.000Z"}
    server.add_statuses([*statuses, bystander, to_bystander])
    conn = connector(url, brands, session, clock, hashtags=["acme"])
    alice = next(m for m in (await conn.poll(None)).mentions if m.external_id == ALICE)
    replies = await conn.replies([alice])
    assert [(r.external_id, r.in_reply_to) for r in replies] == [(REPLY, ALICE)]


async def test_replies_skip_deleted_statuses(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    conn = connector(url, brands, session, clock, hashtags=["acme"])
    page = await conn.poll(None)
    alice = next(m for m in page.mentions if m.external_id == ALICE)
    server.statuses = [s for s in server.statuses if s["id"] != ALICE]  # deleted: 404
    assert await conn.replies([alice]) == []


async def test_replies_context_malformed(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    conn = connector(url, brands, session, clock, hashtags=["acme"])
    alice = next(m for m in (await conn.poll(None)).mentions if m.external_id == ALICE)
    server.fail_next("/api/v1/statuses/", Scripted(body='{"ancestors": []}'))
    with pytest.raises(MalformedResponseError):
        await conn.replies([alice])


async def test_context_checks_are_bounded(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    conn = connector(url, brands, session, clock, hashtags=["acme"], context_checks=2)
    page = await conn.poll(None)
    server.requests.clear()
    await conn.replies(page.mentions)
    assert len(server.requests) == 2


async def test_unreadable_cursor_starts_afresh(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.add_statuses(load_fixture("statuses.json"))
    page = await connector(url, brands, session, clock, hashtags=["acme"]).poll("not json")
    assert len(page.mentions) == 4
    assert "min_id" not in server.requests[0].query


async def test_other_client_error_is_permanent(fake, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.fail_next("/api/v2/search", Scripted(status=422, body='{"error": "Validation failed"}'))
    with pytest.raises(SourceError) as info:
        await connector(url, brands, session, clock, search=["acme"]).poll(None)
    assert not isinstance(info.value, TransientSourceError)


async def test_burst_after_an_empty_first_poll_is_read_completely(fake, brands, session) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    quiet = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    conn = connector(url, brands, session, quiet, hashtags=["acme"], limit=5)
    first = await conn.poll(None)  # the hashtag was never used: 404, nothing to read
    assert first.mentions == []
    burst = numbered(12, 1)
    for n, status in enumerate(burst, start=1):
        status["created_at"] = f"2026-01-05T09:{n:02d}:00.000Z"
    server.add_statuses(burst)
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [s["id"] for s in burst]
    third = await conn.poll(second.cursor)  # from here on, forward from the newest id
    assert third.mentions == [] and json.loads(third.cursor or "")["streams"] == {"tag:acme": burst[-1]["id"]}
