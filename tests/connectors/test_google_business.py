"""GoogleBusinessConnector against a loopback fake Business Profile API and token endpoint (apis.md §8c)."""

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
from connectors.google_business import GoogleBusinessConfig, GoogleBusinessConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_google_business import (
    CLIENT_ID,
    CLIENT_SECRET,
    LOCATION,
    REFRESH_TOKEN,
    FakeGoogleBusiness,
)
from tests.connectors.fake_reviews import Scripted, google_error, load_fixture

LIST = f"/v4/{LOCATION}/reviews"
JANE, ANON, SAM, LEE = (f"{LOCATION}/reviews/{r}" for r in ("AbcDef", "GhiJkl", "MnoPqr", "StuVwx"))
OTHER = "accounts/123/locations/789"


def reviews() -> list[dict[str, Any]]:
    return load_fixture("google_business", "reviews.json")["reviews"]


def numbered(count: int, start: int, location: str = LOCATION) -> list[dict[str, Any]]:
    """`count` reviews one minute apart, newer for larger n."""
    return [
        {"name": f"{location}/reviews/r{n:03d}", "reviewId": f"r{n:03d}", "reviewer": {"displayName": f"u{n}"},
         "starRating": "THREE", "comment": f"issue {n}",
         "createTime": f"2026-01-04T10:{n:02d}:00Z", "updateTime": f"2026-01-04T10:{n:02d}:00Z"}
        for n in range(start, start + count)
    ]


@pytest.fixture
async def gbp(aiohttp_server) -> AsyncIterator[tuple[FakeGoogleBusiness, str]]:  # type: ignore[no-untyped-def]
    fake = FakeGoogleBusiness()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def connector(url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock,
              **config: Any) -> GoogleBusinessConnector:
    settings: dict[str, Any] = {
        "locations": [LOCATION], "brand": "acme", "base_url": url, "token_url": f"{url}/token",
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN, **config,
    }
    return GoogleBusinessConnector("gbp", GoogleBusinessConfig(**settings), brands, session, clock=clock)


async def test_first_poll_maps_reviews_and_replies(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.add(LOCATION, reviews())
    page = await connector(url, brands, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    # Lee left stars only: nothing to classify, so it is left out by default.
    assert set(by_id) == {JANE, ANON, SAM}
    jane = by_id[JANE]
    assert jane.text == "Waited 40 min at the Acme counter" and jane.author == "Jane Doe"
    assert jane.created_at == datetime(2026, 1, 5, 8, 0, 0, 123456, tzinfo=UTC)  # 9 digits cut to micros
    assert jane.rating == 2 and jane.channel == "review" and jane.brands == ("acme",)
    assert jane.edited_at is None and jane.raw["edited_at"] is None
    assert by_id[ANON].author == "Google user" and by_id[ANON].author_name == ""
    # Sam edited after the owner's reply: edited_at set, and the old reply does not answer it.
    assert by_id[SAM].edited_at == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert by_id[SAM].raw["edited_at"] == "2026-01-05T07:00:00+00:00"
    assert [(r.in_reply_to, r.created_at, r.text) for r in page.replies] == [
        (JANE, datetime(2026, 1, 5, 8, 40, tzinfo=UTC), "Sorry Jane, we've added staff.")
    ]
    request = fake.served(LIST)[0]
    assert request.query["orderBy"] == "updateTime desc" and request.query["pageSize"] == "50"
    assert request.headers["Authorization"] == "Bearer ya29.fake-1"
    assert json.loads(page.cursor or "")["streams"][f"loc:{LOCATION}"]["ids"] == [JANE]


async def test_rating_only_reviews_when_asked(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.add(LOCATION, reviews())
    page = await connector(url, brands, session, clock, include_rating_only=True).poll(None)
    lee = next(m for m in page.mentions if m.external_id == LEE)
    assert lee.text == "" and lee.rating == 5


async def test_pages_each_location_down_to_its_watermark(gbp, brands, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    clock = FakeClock(datetime(2026, 1, 4, 10, 0, tzinfo=UTC))  # before the reviews below
    fake.add(LOCATION, numbered(3, 1))
    conn = connector(url, brands, session, clock, page_size=2, locations=[LOCATION, OTHER])
    first = await conn.poll(None)
    assert sorted(m.external_id.rsplit("/", 1)[1] for m in first.mentions) == ["r002", "r003"]
    fake.add(LOCATION, numbered(5, 4))
    fake.add(OTHER, numbered(1, 30, location=OTHER))
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id.rsplit("/", 1)[1] for m in second.mentions) == [
        "r004", "r005", "r006", "r007", "r008", "r030"
    ]
    assert [(r.path, r.query.get("pageToken")) for r in fake.requests if r.path != "/token"] == [
        (LIST, None), (LIST, "2"), (LIST, "4"), (f"/v4/{OTHER}/reviews", None)
    ]
    assert set(json.loads(second.cursor or "")["streams"]) == {f"loc:{LOCATION}", f"loc:{OTHER}"}
    third = await conn.poll(second.cursor)
    assert third.mentions == []


async def test_an_edit_after_the_reply_comes_back(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.add(LOCATION, reviews())
    conn = connector(url, brands, session, clock)
    first = await conn.poll(None)
    jane = reviews()[0]
    jane.update(comment="Waited again today", updateTime="2026-01-05T09:15:00Z")
    fake.add(LOCATION, [jane])
    second = await conn.poll(first.cursor)
    assert [(m.external_id, m.text, m.edited_at) for m in second.mentions] == [
        (JANE, "Waited again today", datetime(2026, 1, 5, 9, 15, tzinfo=UTC))
    ]
    assert second.replies == []


async def test_empty_location(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = gbp
    page = await connector(url, brands, session, clock).poll(None)
    assert page.mentions == [] and page.replies == []
    streams = json.loads(page.cursor or "")["streams"]
    assert streams == {f"loc:{LOCATION}": {"at": "2026-01-05T09:50:00+00:00", "ids": []}}


async def test_rate_limit_uses_retry_after(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.fail_next(LIST, Scripted(status=429, headers={"Retry-After": "7"},
                                  body=google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests'")),
        (403, google_error(403, "PERMISSION_DENIED", "Quota exceeded", reason="quotaExceeded")),
    ],
)
async def test_quota_error_pauses_a_minute(gbp, brands, session, clock, status, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.fail_next(LIST, Scripted(status=status, body=body))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 60.0


async def test_revoked_refresh_token_is_an_auth_error(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = gbp
    with pytest.raises(SourceAuthError, match="invalid_grant") as info:
        await connector(url, brands, session, clock, refresh_token="1//revoked-0000").poll(None)
    assert "1//revoked-0000" not in str(info.value)


async def test_401_after_renewal_is_an_auth_error(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    body = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
    fake.fail_next(LIST, Scripted(status=401, body=body))
    fake.fail_next(LIST, Scripted(status=401, body=body))
    with pytest.raises(SourceAuthError, match="HTTP 401"):
        await connector(url, brands, session, clock).poll(None)
    assert len(fake.oauth.issued) == 2  # it tried a fresh token before giving up


async def test_5xx_is_transient(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.fail_next(LIST, Scripted(status=502, body="<html>Bad Gateway</html>"))
    with pytest.raises(TransientSourceError, match="HTTP 502"):
        await connector(url, brands, session, clock).poll(None)


async def test_timeout(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.fail_next(LIST, Scripted(body="{}", delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await connector(url, brands, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"reviews": [', '{"reviews": "none"}', '"reviews"'])
async def test_malformed_body(gbp, brands, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.fail_next(LIST, Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await connector(url, brands, session, clock).poll(None)


async def test_malformed_reviews_are_skipped_and_counted(gbp, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    good = numbered(1, 1)
    no_time = {**numbered(1, 2)[0], "createTime": None, "updateTime": "2026-01-04T10:02:00Z"}
    no_id = {"comment": "who am I", "createTime": "2026-01-04T10:03:00Z"}
    bad_reply = {**numbered(1, 4)[0], "reviewReply": {"comment": "hi", "updateTime": "later"}}
    fake.add(LOCATION, [*good, no_time, no_id, bad_reply])
    conn = connector(url, brands, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors.google_business")
    page = await conn.poll(None)
    # A reply we cannot read is counted, but the review itself is kept.
    assert sorted(m.external_id for m in page.mentions) == [f"{LOCATION}/reviews/r001", f"{LOCATION}/reviews/r004"]
    assert page.replies == [] and conn.malformed == 3
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"{LOCATION}/reviews/r002" in logged and "r004" in logged


async def test_replies_via_reviews_get(gbp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    fake.add(LOCATION, reviews())
    conn = connector(url, brands, session, clock)
    by_id = {m.external_id: m for m in (await conn.poll(None)).mentions}
    anon = reviews()[1]
    anon["reviewReply"] = {"comment": "We are sorry.", "updateTime": "2026-01-05T09:50:00.5Z"}
    fake.add(LOCATION, [anon])
    fake.reviews[LOCATION] = [r for r in fake.reviews[LOCATION] if r["name"] != JANE]  # deleted: 404
    fake.requests.clear()
    replies = await conn.replies([by_id[ANON], by_id[SAM], by_id[JANE]])
    assert [(r.in_reply_to, r.created_at) for r in replies] == [
        (ANON, datetime(2026, 1, 5, 9, 50, 0, 500000, tzinfo=UTC))
    ]
    assert [r.path for r in fake.requests if r.path != "/token"] == [f"/v4/{n}" for n in (ANON, SAM, JANE)]


def test_config_checks_location_names() -> None:
    base = {"brand": "acme", "access_token": "tok-123456"}
    with pytest.raises(ValidationError, match="accounts/<account id>/locations/<location id>"):
        GoogleBusinessConfig(**base, locations=["locations/456"])
    with pytest.raises(ValidationError, match="at least 1"):
        GoogleBusinessConfig(**base, locations=[])
    assert GoogleBusinessConfig(**base, locations=[f"/{LOCATION}/", LOCATION]).locations == (LOCATION,)


def test_class_attributes() -> None:
    assert GoogleBusinessConnector.type_name == "google_business"
    assert GoogleBusinessConnector.can_see_replies is True


async def test_burst_after_an_empty_first_poll_is_read_completely(gbp, brands, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = gbp
    quiet = FakeClock(datetime(2026, 1, 4, 10, 0, tzinfo=UTC))
    conn = connector(url, brands, session, quiet, page_size=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.add(LOCATION, numbered(12, 1))
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id.rsplit("/", 1)[1] for m in second.mentions) == [f"r{n:03d}" for n in range(1, 13)]
