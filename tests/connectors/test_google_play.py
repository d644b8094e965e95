"""GooglePlayConnector against a loopback fake androidpublisher API and token endpoint (apis.md §7)."""

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
from connectors.google_play import GooglePlayConfig, GooglePlayConnector
from listener.clock import FakeClock
from listener.errors import ConfigError, SourceAuthError, TransientSourceError
from tests.connectors.fake_google_play import CLIENT_EMAIL, PACKAGE, PREFIX, SCOPE, FakeGooglePlay
from tests.connectors.fake_reviews import Scripted, google_error, load_fixture, rsa_key_pem

CRASH, LOGIN, EDITED, LOVE = "gp:AOqpTOF-crash", "gp:AOqpTOG-login", "gp:AOqpTOH-edited", "gp:AOqpTOJ-love"


def reviews() -> list[dict[str, Any]]:
    return load_fixture("google_play", "reviews.json")["reviews"]


def numbered(count: int, start: int, base: int = 1767500000) -> list[dict[str, Any]]:
    """`count` reviews, one minute apart, newer for larger n."""
    return [
        {"reviewId": f"gp:n{n:03d}", "authorName": f"user {n}",
         "comments": [{"userComment": {"text": f"problem {n}", "starRating": 2,
                                       "lastModified": {"seconds": str(base + 60 * n), "nanos": 0}}}]}
        for n in range(start, start + count)
    ]


def key_json(url: str, **extra: Any) -> str:
    return json.dumps({"type": "service_account", "client_email": CLIENT_EMAIL, "private_key": rsa_key_pem()[0],
                       "private_key_id": "k1", "token_uri": f"{url}/token", **extra})


@pytest.fixture
async def play(aiohttp_server) -> AsyncIterator[tuple[FakeGooglePlay, str]]:  # type: ignore[no-untyped-def]
    fake = FakeGooglePlay()
    server = await aiohttp_server(fake.app())
    url = str(server.make_url("")).rstrip("/")
    fake.oauth.url = f"{url}/token"
    yield fake, url


def connector(url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock,
              **config: Any) -> GooglePlayConnector:
    settings: dict[str, Any] = {"package_name": PACKAGE, "brand": "acme", "base_url": url,
                                "service_account_json": key_json(url), **config}
    return GooglePlayConnector("play", GooglePlayConfig(**settings), brands, session, clock=clock)


async def test_first_poll_maps_reviews_and_developer_replies(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(reviews())
    page = await connector(url, brands, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert set(by_id) == {CRASH, LOGIN, EDITED, LOVE}
    crash = by_id[CRASH]
    assert crash.text == "Crashes on start\n\nSince the update Acme crashes every time I open it"
    assert crash.created_at == datetime(2026, 1, 5, 9, 0, 0, 213000, tzinfo=UTC)
    assert crash.rating == 1 and crash.channel == "review"
    assert crash.brands == ("acme",) and crash.author == "John Doe" and crash.lang == "en"
    assert crash.url == f"https://play.google.com/store/apps/details?id={PACKAGE}&reviewId=gp%3AAOqpTOF-crash"
    # Every review is about the app's owner, whatever its words; authorName may be missing.
    assert by_id[LOVE].brands == ("acme",) and by_id[LOGIN].author == "Google Play user"
    # Only the reply that postdates the user's last edit answers the review.
    assert [(r.in_reply_to, r.created_at, r.author) for r in page.replies] == [
        (CRASH, datetime(2026, 1, 5, 9, 30, 0, 813000, tzinfo=UTC), "acme")
    ]
    assert page.replies[0].text == "Sorry! Fixed in 1.2.4"
    assert json.loads(page.cursor or "")["streams"] == {
        f"app:{PACKAGE}": {"at": "2026-01-05T09:00:00.213000+00:00", "ids": [CRASH]}
    }
    api = fake.served(PREFIX)[0]
    assert api.query["maxResults"] == "100" and "token" not in api.query
    assert api.headers["Authorization"] == "Bearer ya29.fake-1"
    claims = fake.oauth.assertions[0]
    assert claims["iss"] == CLIENT_EMAIL and claims["scope"] == SCOPE and claims["aud"] == f"{url}/token"
    assert claims["iat"] == int(clock.now().timestamp())


async def test_pages_with_token_down_to_the_watermark(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(numbered(3, 1))
    conn = connector(url, brands, session, clock, max_results=2)
    first = await conn.poll(None)
    assert sorted(m.external_id for m in first.mentions) == ["gp:n002", "gp:n003"]  # newest page only
    assert len(fake.served(PREFIX)) == 1
    fake.add(numbered(5, 4))
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"gp:n{n:03d}" for n in range(4, 9)]
    # Pages 8-7, 6-5, 4-3: the third page reaches what the first poll had seen, so paging stops.
    assert [r.query.get("token") for r in fake.served(PREFIX)] == [None, "2", "4"]
    third = await conn.poll(second.cursor)
    assert third.mentions == [] and third.cursor == second.cursor


async def test_an_edited_review_comes_back_with_edited_at(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(reviews())
    conn = connector(url, brands, session, clock)
    first = await conn.poll(None)
    edited = reviews()[0]
    edited["comments"][0]["userComment"].update(text="Still crashing", lastModified={"seconds": "1767607200"})
    fake.add([edited])
    second = await conn.poll(first.cursor)
    assert [(m.external_id, m.text, m.edited_at) for m in second.mentions] == [
        (CRASH, "Still crashing", datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    ]
    assert second.mentions[0].raw["edited_at"] == "2026-01-05T10:00:00+00:00"
    assert second.replies == []  # the 09:30 reply answered the old version


async def test_empty_result(play, brands, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    clock = FakeClock(datetime(2026, 1, 4, 4, 0, tzinfo=UTC))  # before the review added below
    conn = connector(url, brands, session, clock)
    page = await conn.poll(None)
    assert page.mentions == [] and page.replies == []
    streams = {f"app:{PACKAGE}": {"at": "2026-01-04T03:50:00+00:00", "ids": []}}
    assert json.loads(page.cursor or "") == {"v": 1, "streams": streams}
    fake.add(numbered(1, 1))
    assert [m.external_id for m in (await conn.poll(page.cursor)).mentions] == ["gp:n001"]


async def test_rate_limit_uses_retry_after(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.fail_next(PREFIX, Scripted(status=429, headers={"Retry-After": "42"},
                                    body=google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 42.0 and "RESOURCE_EXHAUSTED" in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [  # how Google signals a used-up quota is UNCONFIRMED for Play: both usual forms
        (429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Queries'")),
        (403, google_error(403, "PERMISSION_DENIED", "Rate Limit Exceeded", reason="rateLimitExceeded")),
    ],
)
async def test_quota_error_waits_for_the_next_hour(play, brands, session, clock, status, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    clock.set(datetime(2026, 1, 5, 10, 45, tzinfo=UTC))
    fake.fail_next(PREFIX, Scripted(status=status, body=body))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == 15 * 60


async def test_403_without_quota_reason_is_an_auth_error(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.fail_next(PREFIX, Scripted(status=403, body=google_error(
        403, "PERMISSION_DENIED", "The caller does not have permission", reason="forbidden")))
    with pytest.raises(SourceAuthError, match="PERMISSION_DENIED"):
        await connector(url, brands, session, clock).poll(None)


async def test_a_rejected_token_is_renewed_once(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(reviews())
    conn = connector(url, brands, session, clock)
    await conn.poll(None)
    fake.oauth.revoke_all()
    page = await conn.poll(None)
    assert len(page.mentions) == 4 and len(fake.oauth.issued) == 2


async def test_401_twice_is_an_auth_error_without_the_token(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    body = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
    fake.fail_next(PREFIX, Scripted(status=401, body=body))
    fake.fail_next(PREFIX, Scripted(status=401, body=body))
    with pytest.raises(SourceAuthError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert "HTTP 401" in str(info.value) and "ya29" not in str(info.value)


async def test_refused_service_account_is_an_auth_error(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = play
    other = json.loads(key_json(url))
    other["client_email"] = "someone-else@example.iam.gserviceaccount.com"
    with pytest.raises(SourceAuthError, match="invalid_grant"):
        await connector(url, brands, session, clock, service_account_json=json.dumps(other)).poll(None)


async def test_token_is_cached_until_it_nearly_expires(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    conn = connector(url, brands, session, clock)
    await conn.poll(None)
    await conn.poll(None)
    assert len(fake.oauth.issued) == 1
    clock.advance(timedelta(minutes=59, seconds=30))  # inside the renewal margin
    await conn.poll(None)
    assert len(fake.oauth.issued) == 2


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "30"}, 30.0), ({}, None)])
async def test_5xx_is_transient(play, brands, session, clock, headers, retry_after) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.fail_next(PREFIX, Scripted(status=503, body="<html>unavailable</html>", headers=headers))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == retry_after


async def test_timeout(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.fail_next(PREFIX, Scripted(body="{}", delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await connector(url, brands, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"reviews": [{"reviewId": ', '{"reviews": {"a": 1}}', '[]'])
async def test_malformed_body(play, brands, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.fail_next(PREFIX, Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await connector(url, brands, session, clock).poll(None)


async def test_malformed_reviews_are_skipped_and_counted(play, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    good = numbered(1, 1)
    no_time = numbered(1, 2)[0]
    no_time["comments"][0]["userComment"]["lastModified"] = {"seconds": "soon"}
    no_comment = {"reviewId": "gp:empty", "comments": []}
    bad_reply = numbered(1, 3)[0]
    bad_reply["comments"].append({"developerComment": {"text": "hi", "lastModified": {"seconds": "x"}}})
    fake.add([*good, no_time, no_comment, bad_reply])
    conn = connector(url, brands, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors.google_play")
    page = await conn.poll(None)
    # A reply we cannot read is counted, but the review itself is kept.
    assert sorted(m.external_id for m in page.mentions) == ["gp:n001", "gp:n003"]
    assert page.replies == [] and conn.malformed == 3
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "'gp:n002'" in logged and "'gp:empty'" in logged


async def test_replies_via_reviews_get(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(reviews())
    conn = connector(url, brands, session, clock)
    by_id = {m.external_id: m for m in (await conn.poll(None)).mentions}
    login = reviews()[1]
    login["comments"].append({"developerComment": {"text": "Fixed now",
                                                   "lastModified": {"seconds": "1767606000", "nanos": 0}}})
    fake.add([login])
    fake.reviews = [r for r in fake.reviews if r["reviewId"] != LOVE]  # gone from the API: 404
    fake.requests.clear()
    replies = await conn.replies([by_id[LOGIN], by_id[EDITED], by_id[LOVE]])
    assert [(r.in_reply_to, r.created_at, r.text) for r in replies] == [
        (LOGIN, datetime(2026, 1, 5, 9, 40, tzinfo=UTC), "Fixed now")
    ]
    assert [r.path for r in fake.requests] == [f"{PREFIX}/{i}" for i in (LOGIN, EDITED, LOVE)]


async def test_reply_checks_are_bounded(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(reviews())
    conn = connector(url, brands, session, clock, reply_checks=2)
    page = await conn.poll(None)
    fake.requests.clear()
    await conn.replies(page.mentions)
    assert len(fake.served(PREFIX)) == 2


def test_config_needs_exactly_one_credential(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = {"package_name": PACKAGE, "brand": "acme"}
    with pytest.raises(ValidationError, match="exactly one"):
        GooglePlayConfig(**base)
    with pytest.raises(ValidationError, match="found: service_account_json, access_token"):
        GooglePlayConfig(**base, service_account_json=key_json("http://x"), access_token="tok-123456")
    with pytest.raises(ValidationError, match="lacks private_key"):
        GooglePlayConfig(**base, service_account_json=json.dumps({"client_email": "a@b"}))
    with pytest.raises(ValidationError, match="cannot read service_account_file"):
        GooglePlayConfig(**base, service_account_file=tmp_path / "missing.json")
    with pytest.raises(ValidationError, match="client_id, client_secret and refresh_token"):
        GooglePlayConfig(**base, client_id="abc")
    key = tmp_path / "key.json"
    key.write_text(key_json("http://x"))
    assert GooglePlayConfig(**base, service_account_file=key).service_account_file == key


async def test_a_ready_access_token_is_used_as_is(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.oauth.issued.append("given-token-1234")
    conn = connector(url, brands, session, clock, service_account_json=None, access_token="given-token-1234")
    await conn.poll(None)
    assert fake.served(PREFIX)[0].headers["Authorization"] == "Bearer given-token-1234"
    assert fake.served("/token") == []


async def test_unknown_brand_is_a_config_error(session) -> None:  # type: ignore[no-untyped-def]
    config = GooglePlayConfig(package_name=PACKAGE, brand="initech", access_token="tok-123456")
    with pytest.raises(ConfigError, match=r"connectors.play.brand: no brand named 'initech'"):
        GooglePlayConnector("play", config, [BrandView(name="acme")], session)


def test_class_attributes() -> None:
    assert GooglePlayConnector.type_name == "google_play"
    assert GooglePlayConnector.can_see_replies is True
    assert GooglePlayConnector.max_lookback == timedelta(days=7)


async def test_a_burst_bigger_than_max_pages_is_read_over_several_polls(play, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(numbered(1, 1))
    conn = connector(url, brands, session, clock, max_results=2, max_pages=2)
    first = await conn.poll(None)
    fake.add(numbered(7, 2))  # n002..n008: four pages of two
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == ["gp:n005", "gp:n006", "gp:n007", "gp:n008"]
    state = json.loads(second.cursor or "")["streams"][f"app:{PACKAGE}"]
    assert state["ids"] == ["gp:n001"] and state["resume"] == "4" and state["top"]["ids"] == ["gp:n008"]
    fake.requests.clear()
    third = await conn.poll(second.cursor)
    assert sorted(m.external_id for m in third.mentions) == ["gp:n002", "gp:n003", "gp:n004"]
    assert [r.query.get("token") for r in fake.served(PREFIX)] == ["4", "6"]
    assert json.loads(third.cursor or "")["streams"][f"app:{PACKAGE}"] == {
        "at": "2026-01-04T04:21:20+00:00", "ids": ["gp:n008"]
    }


async def test_an_expired_resume_token_starts_again_from_the_top(play, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    fake.add(numbered(1, 1))
    conn = connector(url, brands, session, clock, max_results=2, max_pages=1)
    first = await conn.poll(None)
    fake.add(numbered(5, 2))
    second = await conn.poll(first.cursor)
    fake.fail_next(PREFIX, Scripted(status=400, body=google_error(400, "INVALID_ARGUMENT", "Invalid page token")))
    caplog.set_level(logging.WARNING, logger="connectors._reviews")
    third = await conn.poll(second.cursor)
    assert third.mentions == []
    assert json.loads(third.cursor or "")["streams"][f"app:{PACKAGE}"]["ids"] == ["gp:n006"]
    assert "may be missing" in caplog.text


async def test_burst_after_an_empty_first_poll_is_read_completely(play, brands, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = play
    quiet = FakeClock(datetime(2026, 1, 4, 4, 0, tzinfo=UTC))
    conn = connector(url, brands, session, quiet, max_results=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.add(numbered(12, 1))
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"gp:n{n:03d}" for n in range(1, 13)]
