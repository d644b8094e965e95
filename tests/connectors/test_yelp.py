"""YelpConnector against a loopback fake Yelp Fusion (apis.md §8a)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.yelp import YelpConfig, YelpConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from tests.connectors.conftest import NOW
from tests.connectors.fake_reviews import Scripted, load_fixture
from tests.connectors.fake_yelp import API_KEY, FakeYelp

BIZ, OTHER = "acme-coffee-san-francisco", "acme-coffee-oakland"
PATH = f"/v3/businesses/{BIZ}/reviews"
COLD, PASTRY, CARD = "xAG4O7l-t1ubbwVAlPnDKg", "1JNmYjJgNCa_t8pWGK1xWQ", "tBkRZ8d8qpEVPd1k-8v9LA"


def reviews() -> list[dict[str, Any]]:
    return load_fixture("yelp", "reviews.json")["reviews"]


def review(ident: str, when: str, text: str = "meh") -> dict[str, Any]:
    return {"id": ident, "url": f"https://www.yelp.com/biz/x?hrid={ident}", "text": text, "rating": 3,
            "time_created": when, "user": {"id": "u", "name": "Kim"}}


@pytest.fixture
async def yelp(aiohttp_server) -> AsyncIterator[tuple[FakeYelp, str]]:  # type: ignore[no-untyped-def]
    fake = FakeYelp(now=NOW)
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def connector(url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock,
              **config: Any) -> YelpConnector:
    settings: dict[str, Any] = {"businesses": [BIZ], "api_key": API_KEY, "brand": "acme", "base_url": url, **config}
    return YelpConnector("yelp", YelpConfig(**settings), brands, session, clock=clock)


async def test_first_poll_maps_excerpts(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = reviews()
    page = await connector(url, brands, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert set(by_id) == {COLD, PASTRY, CARD}
    cold = by_id[COLD]
    # "2026-01-04 23:41:13" carries no zone: it is Pacific time (PST in January, UTC-8).
    assert cold.created_at == datetime(2026, 1, 5, 7, 41, 13, tzinfo=UTC)
    assert cold.rating == 2 and cold.channel == "review" and cold.raw["excerpt"] is True
    assert cold.author == "Ella A." and cold.brands == ("acme",) and cold.url.startswith("https://www.yelp.com/biz/")
    assert page.replies == []
    # The position is the newest excerpt, whatever order Yelp listed them in.
    assert json.loads(page.cursor or "")["streams"][f"biz:{BIZ}"] == {
        "at": "2026-01-05T08:10:00+00:00", "ids": [PASTRY]
    }
    request = fake.requests[0]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}" and request.query["sort_by"] == "newest"


async def test_later_polls_keep_only_newer_excerpts(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = reviews()
    fake.reviews[OTHER] = [review("oak-1", "2026-01-02 10:00:00")]
    conn = connector(url, brands, session, clock, businesses=[BIZ, OTHER], locale="en_US", sort_by="")
    first = await conn.poll(None)
    assert len(first.mentions) == 4
    fake.reviews[BIZ] = [review("new-1", "2026-01-05 01:00:00", "cold coffee again"), *reviews()[:2]]
    second = await conn.poll(first.cursor)
    assert [m.external_id for m in second.mentions] == ["new-1"]
    assert {r.query.get("locale") for r in fake.requests} == {"en_US"}
    assert all("sort_by" not in r.query for r in fake.requests)
    assert set(json.loads(second.cursor or "")["streams"]) == {f"biz:{BIZ}", f"biz:{OTHER}"}


async def test_timezone_is_configurable(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = [review("tokyo-1", "2026-01-05 09:00:00")]
    page = await connector(url, brands, session, clock, timezone="Asia/Tokyo").poll(None)
    assert page.mentions[0].created_at == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


async def test_empty_result(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = []
    page = await connector(url, brands, session, clock).poll(None)
    assert page.mentions == []
    assert [s["at"] for s in json.loads(page.cursor or "")["streams"].values()] == ["2026-01-05T09:50:00+00:00"]


async def test_per_second_limit(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.fail_next(PATH, Scripted(status=429, headers={"RateLimit-ResetTime": fake.reset_time()}, body=json.dumps(
        {"error": {"code": "TOO_MANY_REQUESTS_PER_SECOND", "description": "You have exceeded the QPS limit"}})))
    with pytest.raises(TransientSourceError, match="TOO_MANY_REQUESTS_PER_SECOND") as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 1.0  # not until the daily reset


@pytest.mark.parametrize("status", [429, 403])  # the status of the daily-cap error is UNCONFIRMED
async def test_daily_budget_waits_for_the_reset_time(yelp, brands, session, clock, status) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    reset = (NOW + timedelta(hours=3)).isoformat()
    fake.fail_next(PATH, Scripted(status=status, headers={"RateLimit-Remaining": "0", "RateLimit-ResetTime": reset},
                                  body=json.dumps({"error": {"code": "ACCESS_LIMIT_REACHED", "description": "..."}})))
    with pytest.raises(TransientSourceError, match="ACCESS_LIMIT_REACHED") as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 3 * 3600


async def test_daily_budget_without_reset_header_waits_for_utc_midnight(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.fail_next(PATH, Scripted(status=429, body=json.dumps({"error": {"code": "ACCESS_LIMIT_REACHED"}})))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 14 * 3600  # NOW is 10:00 UTC


async def test_used_up_budget_stops_the_other_businesses(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = reviews()
    fake.reviews[OTHER] = [review("oak-1", "2026-01-02 10:00:00")]
    fake.remaining = 1  # this answer says none remain
    page = await connector(url, brands, session, clock, businesses=[BIZ, OTHER]).poll(None)
    assert len(fake.requests) == 1 and len(page.mentions) == 3
    assert list(json.loads(page.cursor or "")["streams"]) == [f"biz:{BIZ}"]


async def test_401_without_the_key(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = yelp
    with pytest.raises(SourceAuthError, match="TOKEN_INVALID") as info:
        await connector(url, brands, session, clock, api_key="not-the-key-12345").poll(None)
    assert "not-the-key-12345" not in str(info.value)


async def test_unknown_business_needs_an_operator(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = yelp
    with pytest.raises(SourceError, match="BUSINESS_NOT_FOUND") as info:
        await connector(url, brands, session, clock).poll(None)
    assert not isinstance(info.value, TransientSourceError)


async def test_5xx_and_timeout(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.fail_next(PATH, Scripted(status=503, headers={"Retry-After": "5"}, body="<html>down</html>"))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 5.0
    fake.fail_next(PATH, Scripted(body='{"reviews": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await connector(url, brands, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"reviews": [{"id": ', '{"total": 3}', '"x"'])
async def test_malformed_body(yelp, brands, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.fail_next(PATH, Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await connector(url, brands, session, clock).poll(None)


async def test_malformed_reviews_are_skipped_and_counted(yelp, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = [review("ok-1", "2026-01-04 10:00:00"), review("bad-1", "not a time"), "junk"]
    conn = connector(url, brands, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors.yelp")
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["ok-1"]
    assert conn.malformed == 2 and "'bad-1'" in caplog.text


async def test_no_replies_are_visible(yelp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yelp
    fake.reviews[BIZ] = reviews()
    conn = connector(url, brands, session, clock)
    page = await conn.poll(None)
    fake.requests.clear()
    assert await conn.replies(page.mentions) == [] and fake.requests == []
    assert YelpConnector.can_see_replies is False and YelpConnector.type_name == "yelp"


def test_config() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        YelpConfig(businesses=[BIZ], api_key=API_KEY, brand="acme", timezone="Pacific Time")
    with pytest.raises(ValidationError, match="at least 1"):
        YelpConfig(businesses=[], api_key=API_KEY, brand="acme")
    assert YelpConfig(businesses=[BIZ], api_key=API_KEY, brand="acme").poll_interval == timedelta(hours=1)
