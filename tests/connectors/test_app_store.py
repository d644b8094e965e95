"""AppStoreConnector (App Store Connect) and AppStoreRssConnector (public feed) against loopback fakes."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from connectors._http import MalformedResponseError
from connectors.app_store import (
    AppStoreConfig,
    AppStoreConnector,
    AppStoreRssConfig,
    AppStoreRssConnector,
    rate_limit_state,
)
from connectors.base import BrandView
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.conftest import NOW
from tests.connectors.fake_app_store import (
    APP_ID,
    ISSUER_ID,
    KEY_ID,
    FakeAppStoreConnect,
    FakeAppStoreRss,
    asc_error,
)
from tests.connectors.fake_reviews import Scripted, ec_key_pem, load_fixture, rsa_key_pem

LIST = f"/v1/apps/{APP_ID}/customerReviews"
CRASH, SYNC, GREAT = (f"00000028-b08c-0014-729e-fbd50000000{n}" for n in range(3))


def fixture() -> dict[str, Any]:
    return load_fixture("app_store", "customer_reviews.json")


def numbered(count: int, start: int) -> list[dict[str, Any]]:
    """`count` reviews one minute apart, newer for larger n."""
    return [
        {"type": "customerReviews", "id": f"r-{n:03d}",
         "attributes": {"rating": 3, "title": f"t{n}", "body": f"issue {n}", "reviewerNickname": f"u{n}",
                        "createdDate": f"2026-01-04T10:{n:02d}:00-08:00", "territory": "USA"}}
        for n in range(start, start + count)
    ]


@pytest.fixture
async def asc(aiohttp_server) -> AsyncIterator[tuple[FakeAppStoreConnect, str]]:  # type: ignore[no-untyped-def]
    fake = FakeAppStoreConnect()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def connector(url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock,
              **config: Any) -> AppStoreConnector:
    settings: dict[str, Any] = {"app_id": APP_ID, "issuer_id": ISSUER_ID, "key_id": KEY_ID,
                                "private_key": ec_key_pem()[0], "brand": "acme", "base_url": url, **config}
    return AppStoreConnector("ios", AppStoreConfig(**settings), brands, session, clock=clock)


# -- App Store Connect ----------------------------------------------------------------------------


async def test_first_poll_maps_reviews_and_responses(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    data = fixture()
    fake.add(data["data"], data["included"])
    page = await connector(url, brands, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert set(by_id) == {CRASH, SYNC, GREAT}
    crash = by_id[CRASH]
    assert crash.text == "Crashes\n\nCrashes on launch since 5.2" and crash.author == "Anne Johnson"
    assert crash.created_at == datetime(2026, 1, 5, 8, 10, 34, tzinfo=UTC)
    assert crash.rating == 1 and crash.channel == "review" and crash.brands == ("acme",)
    assert crash.edited_at is None and crash.url == f"https://apps.apple.com/app/id{APP_ID}?see-all=reviews"
    # The published response and, by default, the one waiting for publication both count.
    assert sorted((r.in_reply_to, r.created_at) for r in page.replies) == [
        (CRASH, datetime(2026, 1, 5, 9, 0, tzinfo=UTC)), (SYNC, datetime(2026, 1, 5, 8, 30, tzinfo=UTC))
    ]
    query = fake.served(LIST)[0].query
    assert (query["sort"], query["limit"], query["include"]) == ("-createdDate", "100", "response")
    claims = fake.tokens[0]
    assert claims["iss"] == ISSUER_ID and claims["aud"] == "appstoreconnect-v1"
    assert claims["iat"] == int(NOW.timestamp()) and claims["exp"] - claims["iat"] == 19 * 60


async def test_pending_responses_can_be_left_out(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    data = fixture()
    fake.add(data["data"], data["included"])
    page = await connector(url, brands, session, clock, count_pending_responses=False).poll(None)
    assert [r.in_reply_to for r in page.replies] == [CRASH]


async def test_pages_with_links_next_down_to_the_watermark(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.add(numbered(3, 1))
    conn = connector(url, brands, session, clock, limit=2, territory="usa")
    first = await conn.poll(None)
    assert sorted(m.external_id for m in first.mentions) == ["r-002", "r-003"]
    fake.add(numbered(5, 4))
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"r-{n:03d}" for n in range(4, 9)]
    # Later pages come from links.next (which keeps the filter) on our own base_url.
    assert [(r.query.get("cursor"), r.query.get("filter[territory]")) for r in fake.requests] == [
        (None, "USA"), ("2", "USA"), ("4", "USA")
    ]
    assert (await conn.poll(second.cursor)).mentions == []


async def test_empty_result(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = asc
    page = await connector(url, brands, session, clock).poll(None)
    assert page.mentions == [] and page.replies == []
    # A quiet start is a position too (its time, less a little slack), so the next poll pages down to it.
    assert json.loads(page.cursor or "")["streams"] == {f"app:{APP_ID}": {"at": "2026-01-05T09:50:00+00:00", "ids": []}}


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"X-Rate-Limit": "user-hour-lim:3500;user-hour-rem:0;"}, 300.0),  # the hour is used up
        ({"X-Rate-Limit": "user-hour-lim:3500;user-hour-rem:812;"}, 60.0),  # a burst limit
        ({"X-Rate-Limit": "user-hour-lim:3500;user-hour-rem:0;", "Retry-After": "17"}, 17.0),
    ],
)
async def test_rate_limit_exceeded(asc, brands, session, clock, headers, retry_after) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.fail_next(LIST, Scripted(status=429, headers=headers, body=asc_error(
        429, "RATE_LIMIT_EXCEEDED", "The request rate limit has been reached.")))
    with pytest.raises(TransientSourceError, match="RATE_LIMIT_EXCEEDED") as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == retry_after


async def test_used_up_hour_stops_paging(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.add(numbered(3, 1))
    conn = connector(url, brands, session, clock, limit=1)
    first = await conn.poll(None)
    fake.add(numbered(4, 4))
    fake.remaining = 2  # the next answer says one call remains, the one after says none
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert len(fake.requests) == 2 and conn.rate_state["user-hour-rem"] == 0
    assert sorted(m.external_id for m in second.mentions) == ["r-006", "r-007"]
    # The catch-up is unfinished: the next poll goes on down from where this one stopped.
    assert json.loads(second.cursor or "")["streams"][f"app:{APP_ID}"]["resume"].endswith("cursor=2")
    fake.remaining = 100
    fake.requests.clear()
    third = await conn.poll(second.cursor)
    assert sorted(m.external_id for m in third.mentions) == ["r-004", "r-005"]
    assert [r.query.get("cursor") for r in fake.requests] == ["2", "3", "4"]  # down to r-003, seen before
    fake.add(numbered(1, 9))
    fourth = await conn.poll(third.cursor)
    assert [m.external_id for m in fourth.mentions] == ["r-009"]  # new on top, found from the new mark


def test_rate_limit_header_parsing() -> None:
    assert rate_limit_state("user-hour-lim:3500;user-hour-rem:500;") == {"user-hour-lim": 3500, "user-hour-rem": 500}
    assert rate_limit_state(None) == {} and rate_limit_state("garbage;x:y") == {}


async def test_401_for_a_key_apple_does_not_know(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    _, url = asc
    with pytest.raises(SourceAuthError, match="NOT_AUTHORIZED") as info:
        await connector(url, brands, session, clock, private_key=other).poll(None)
    assert "eyJ" not in str(info.value)  # no token in the message


@pytest.mark.parametrize(("status", "headers", "retry_after"), [(503, {"Retry-After": "30"}, 30.0), (500, {}, None)])
async def test_5xx_is_transient(asc, brands, session, clock, status, headers, retry_after) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.fail_next(LIST, Scripted(status=status, body="<html>oops</html>", headers=headers))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == retry_after


async def test_timeout(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.fail_next(LIST, Scripted(body='{"data": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await connector(url, brands, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"data": [{"id": ', '{"data": {"id": "x"}}', '{"errors": []}'])
async def test_malformed_body(asc, brands, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.fail_next(LIST, Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await connector(url, brands, session, clock).poll(None)


async def test_malformed_reviews_are_skipped_and_counted(asc, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    good, bad_time, bad_response = numbered(3, 1)
    bad_time["attributes"]["createdDate"] = "someday"
    bad_response["relationships"] = {"response": {"data": {"type": "customerReviewResponses", "id": "resp-x"}}}
    broken = {"type": "customerReviewResponses", "id": "resp-x",
              "attributes": {"responseBody": "hi", "state": "PUBLISHED", "lastModifiedDate": "soon"}}
    fake.add([good, bad_time, bad_response], [broken])
    fake.reviews.append({"type": "customerReviews", "attributes": {"createdDate": "2026-01-04T09:00:00Z"}})
    conn = connector(url, brands, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors.app_store")
    page = await conn.poll(None)
    assert sorted(m.external_id for m in page.mentions) == ["r-001", "r-003"]
    assert page.replies == [] and conn.malformed == 3
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "'r-002'" in logged and "'r-003'" in logged and "None" in logged


@pytest.mark.parametrize("no_response", ["404", "null"])
async def test_replies_via_the_response_endpoint(asc, brands, session, clock, no_response) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    fake.no_response = no_response
    data = fixture()
    fake.add(data["data"])  # no responses yet
    conn = connector(url, brands, session, clock)
    page = await conn.poll(None)
    assert page.replies == []
    fake.responses[GREAT] = {"type": "customerReviewResponses", "id": "resp-9", "attributes": {
        "responseBody": "Thank you!", "lastModifiedDate": "2026-01-05T09:45:00Z", "state": "PUBLISHED"}}
    fake.requests.clear()
    by_id = {m.external_id: m for m in page.mentions}
    replies = await conn.replies([by_id[CRASH], by_id[GREAT]])
    assert [(r.in_reply_to, r.created_at, r.text) for r in replies] == [
        (GREAT, datetime(2026, 1, 5, 9, 45, tzinfo=UTC), "Thank you!")
    ]
    assert [r.path for r in fake.requests] == [f"/v1/customerReviews/{i}/response" for i in (CRASH, GREAT)]


async def test_token_is_reused_then_renewed(asc, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = asc
    conn = connector(url, brands, session, clock)
    await conn.poll(None)
    clock.advance(timedelta(minutes=10))
    await conn.poll(None)
    clock.advance(timedelta(minutes=8, seconds=30))  # within a minute of expiry
    await conn.poll(None)
    assert [t["iat"] for t in fake.tokens] == [int(NOW.timestamp())] * 2 + [
        int((NOW + timedelta(minutes=18, seconds=30)).timestamp())
    ]


def test_config_checks_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = {"app_id": APP_ID, "issuer_id": ISSUER_ID, "key_id": KEY_ID, "brand": "acme"}
    with pytest.raises(ValidationError, match="exactly one of private_key"):
        AppStoreConfig(**base)
    with pytest.raises(ValidationError, match="not a PEM private key") as info:
        AppStoreConfig(**base, private_key="-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----")
    assert "not-a-key" not in str(info.value)
    with pytest.raises(ValidationError, match="not an EC"):
        AppStoreConfig(**base, private_key=rsa_key_pem()[0])
    with pytest.raises(ValidationError, match="alpha-3"):
        AppStoreConfig(**base, private_key=ec_key_pem()[0], territory="US")
    with pytest.raises(ValidationError, match="numeric Apple ID"):
        AppStoreConfig(**{**base, "app_id": "com.acme"}, private_key=ec_key_pem()[0])
    key = tmp_path / "AuthKey_2X9R4HXF34.p8"
    key.write_text(ec_key_pem()[0])
    assert AppStoreConfig(**base, private_key_file=key).private_key_file == key


# -- public feed ------------------------------------------------------------------------------------


FEED = f"/us/rss/customerreviews/page=1/id={APP_ID}/sortby=mostrecent/json"


def rss_entries() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    entries = load_fixture("app_store", "rss_feed.json")["feed"]["entry"]
    return entries[0], entries[1:]


def rss_numbered(count: int, start: int) -> list[dict[str, Any]]:
    """Feed entries with ids 7000000000+n, newest (largest n) first, as the feed sorts them."""
    template = rss_entries()[1][0]
    made = []
    for n in range(start + count - 1, start - 1, -1):
        entry = copy.deepcopy(template)
        entry["id"] = {"label": str(7000000000 + n)}
        entry["content"] = {"label": f"problem {n}"}
        made.append(entry)
    return made


@pytest.fixture
async def rss(aiohttp_server) -> AsyncIterator[tuple[FakeAppStoreRss, str]]:  # type: ignore[no-untyped-def]
    fake = FakeAppStoreRss()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def rss_connector(url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock,
                  **config: Any) -> AppStoreRssConnector:
    settings: dict[str, Any] = {"app_id": APP_ID, "brand": "acme", "base_url": url, **config}
    return AppStoreRssConnector("ios_feed", AppStoreRssConfig(**settings), brands, session, clock=clock)


async def test_feed_first_poll(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.metadata, fake.entries["us"] = rss_entries()
    page = await rss_connector(url, brands, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert set(by_id) == {"6290024632", "6290024630"}  # the app's metadata entry is not a review
    login = by_id["6290024632"]
    assert login.text == "Login broken\n\nCannot log in to Acme.\nPlease fix."
    assert login.created_at == datetime(2026, 1, 5, 8, 30, tzinfo=UTC) and login.raw["created_at_estimated"] is False
    assert login.rating == 1 and login.channel == "review" and login.brands == ("acme",)
    assert login.author == "sadpanda" and login.url == f"https://apps.apple.com/us/app/id{APP_ID}?see-all=reviews"
    # Without `updated` the time of first sight stands in, and raw says so.
    love = by_id["6290024630"]
    assert love.created_at == NOW and love.raw["created_at_estimated"] is True
    assert page.replies == []
    assert json.loads(page.cursor or "") == {"v": 1, "countries": {"us": "6290024632"}}
    assert [r.path for r in fake.requests] == [FEED]


async def test_feed_pages_down_to_the_newest_id_seen(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.page_size = 2
    fake.entries["us"] = rss_numbered(3, 1)
    conn = rss_connector(url, brands, session, clock)
    first = await conn.poll(None)
    assert sorted(m.external_id for m in first.mentions) == ["7000000002", "7000000003"]
    fake.entries["us"] = rss_numbered(8, 1)
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [str(7000000000 + n) for n in range(4, 9)]
    assert [r.path.split("/")[4] for r in fake.requests] == ["page=1", "page=2", "page=3"]
    assert (await conn.poll(second.cursor)).mentions == []


async def test_feed_countries_keep_their_own_position(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.entries["us"] = rss_numbered(1, 1)  # a single entry comes as an object
    page = await rss_connector(url, brands, session, clock, countries=["US", "jp"]).poll(None)
    assert [m.external_id for m in page.mentions] == ["7000000001"]
    # jp has no reviews: the feed has no "entry" at all; its position is "0" (below every id), so
    # the first burst there is read down the pages instead of the newest page only.
    assert json.loads(page.cursor or "")["countries"] == {"us": "7000000001", "jp": "0"}
    assert [r.path.split("/")[1] for r in fake.requests] == ["us", "jp"]
    fake.page_size = 2
    fake.entries["jp"] = rss_numbered(5, 1)
    later = await rss_connector(url, brands, session, clock, countries=["US", "jp"]).poll(page.cursor)
    assert sorted(m.external_id for m in later.mentions) == [str(7000000000 + n) for n in range(1, 6)]


async def test_feed_unknown_app_is_empty(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = rss
    page = await rss_connector(url, brands, session, clock, app_id="1").poll(None)
    assert page.mentions == []


async def test_feed_rate_limit_and_errors(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    conn = rss_connector(url, brands, session, clock)
    fake.fail_next("/us/", Scripted(status=429, headers={"Retry-After": "120"}, body=""))
    with pytest.raises(TransientSourceError) as info:
        await conn.poll(None)
    assert info.value.retry_after == 120.0
    fake.fail_next("/us/", Scripted(status=503, body="<html>busy</html>"))
    with pytest.raises(TransientSourceError, match="HTTP 503"):
        await conn.poll(None)
    # Apple's edge answers 403 to clients it blocks; the feed has no credentials, but it is an access refusal.
    fake.fail_next("/us/", Scripted(status=403, body="<html>Forbidden</html>"))
    with pytest.raises(SourceAuthError):
        await conn.poll(None)


async def test_feed_timeout(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.fail_next("/us/", Scripted(body='{"feed": {}}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await rss_connector(url, brands, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ["<html>maintenance</html>", '{"nofeed": 1}', '{"feed": "x"}'])
async def test_feed_malformed_body(rss, brands, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.fail_next("/us/", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await rss_connector(url, brands, session, clock).poll(None)


async def test_feed_malformed_entries_are_skipped(rss, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    good, no_id, bad_time = rss_numbered(3, 1)
    no_id["id"] = {"label": ""}
    bad_time["updated"] = {"label": "yesterday"}
    fake.entries["us"] = [good, no_id, bad_time]
    conn = rss_connector(url, brands, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors.app_store")
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["7000000003"]
    assert conn.malformed == 2 and "'7000000001'" in " ".join(r.getMessage() for r in caplog.records)


async def test_feed_cannot_see_replies(rss, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.entries["us"] = rss_numbered(1, 1)
    conn = rss_connector(url, brands, session, clock)
    page = await conn.poll(None)
    fake.requests.clear()
    assert await conn.replies(page.mentions) == [] and fake.requests == []
    assert AppStoreRssConnector.can_see_replies is False and AppStoreConnector.can_see_replies is True
    assert (AppStoreRssConnector.type_name, AppStoreConnector.type_name) == ("app_store_rss", "app_store")


async def test_feed_warns_when_its_pages_do_not_reach_back(rss, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = rss
    fake.page_size = 1
    fake.entries["us"] = rss_numbered(1, 1)
    conn = rss_connector(url, brands, session, clock, max_pages=2)
    first = await conn.poll(None)
    fake.entries["us"] = rss_numbered(4, 1)
    caplog.set_level(logging.WARNING, logger="connectors.app_store")
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == ["7000000003", "7000000004"]
    assert "may be missing" in caplog.text


async def test_every_review_is_its_own_mention_and_each_complaint_its_own_clock(  # type: ignore[no-untyped-def]
    asc, brands, session, clock, make_settings
) -> None:
    """Reviews share the app's page URL; the store must still keep eleven reviews as eleven mentions."""
    from listener.daemon import Daemon
    from listener.store import SyncStore
    from tests.doubles import KeywordClassifier, RecordingSink

    fake, url = asc
    reviews = numbered(11, 1)
    reviews[2]["attributes"]["body"] = "the app is broken since the update"
    reviews[7]["attributes"]["body"] = "charged twice, I want a refund"
    fake.add(reviews)
    conn = connector(url, brands, session, clock)
    page = await conn.poll(None)
    assert len({m.url for m in page.mentions}) == 1 and len(page.mentions) == 11  # one page URL for all
    settings = make_settings()
    daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={"slack": RecordingSink("slack")},
                    connectors={"ios": conn})
    await daemon.run_once()
    store = SyncStore(settings.listener.database)
    try:
        stored = store.db.execute("SELECT key, reach FROM mentions WHERE source = 'ios' ORDER BY key").fetchall()
        complaints = sorted(c.mention_key for c in store.complaints())
    finally:
        store.close()
    assert [key for key, _ in stored] == [f"ios:r-{n:03d}" for n in range(1, 12)]
    assert {reach for _, reach in stored} == {1}
    assert complaints == ["ios:r-003", "ios:r-008"]
