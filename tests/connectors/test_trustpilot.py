"""TrustpilotConnector against a loopback fake (apis.md §8d; unconfirmed parts tested in both variants)."""

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
from connectors.trustpilot import TrustpilotConfig, TrustpilotConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from tests.connectors.fake_reviews import Scripted, load_fixture
from tests.connectors.fake_trustpilot import ACCESS_TOKEN, API_KEY, UNIT, FakeTrustpilot

LIST = f"/v1/business-units/{UNIT}/reviews"
PARCEL, SLOW, REFUND = (f"6777a1b2c3d4e5f60000000{n}" for n in (1, 2, 3))


def reviews() -> list[dict[str, Any]]:
    return load_fixture("trustpilot", "reviews.json")["reviews"]


def numbered(count: int, start: int) -> list[dict[str, Any]]:
    """`count` reviews one minute apart, newer for larger n."""
    return [
        {"id": f"tp{n:03d}", "stars": 2, "title": f"t{n}", "text": f"issue {n}", "language": "en",
         "createdAt": f"2026-01-04T10:{n:02d}:00.000Z", "consumer": {"displayName": f"c{n}"}}
        for n in range(start, start + count)
    ]


@pytest.fixture(params=[True, False], ids=["links", "no-links"])
async def tp(request, aiohttp_server) -> AsyncIterator[tuple[FakeTrustpilot, str]]:  # type: ignore[no-untyped-def]
    fake = FakeTrustpilot(send_links=request.param)
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


def connector(url: str, brands: list[BrandView], session: aiohttp.ClientSession, clock: FakeClock,
              **config: Any) -> TrustpilotConnector:
    settings: dict[str, Any] = {"business_unit_id": UNIT, "api_key": API_KEY, "brand": "acme",
                                "base_url": url, **config}
    return TrustpilotConnector("tp", TrustpilotConfig(**settings), brands, session, clock=clock)


async def test_first_poll_maps_reviews_and_company_replies(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    fake.add(reviews())
    page = await connector(url, brands, session, clock).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    assert set(by_id) == {PARCEL, SLOW, REFUND}
    parcel = by_id[PARCEL]
    assert parcel.text == "Parcel never arrived\n\nOrdered from Acme two weeks ago and nothing came."
    assert parcel.author == "Maria K." and parcel.lang == "en" and parcel.brands == ("acme",)
    assert parcel.rating == 1 and parcel.channel == "review" and parcel.edited_at is None
    assert parcel.url == f"https://www.trustpilot.com/reviews/{PARCEL}"
    # Ines edited after the company's reply: the edit is unanswered.
    assert by_id[REFUND].edited_at == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert by_id[REFUND].raw["edited_at"] == "2026-01-05T07:00:00+00:00"
    assert [(r.in_reply_to, r.created_at, r.author) for r in page.replies] == [
        (PARCEL, datetime(2026, 1, 5, 9, 20, tzinfo=UTC), "acme")
    ]
    query = fake.served(LIST)[0].query
    assert (query["page"], query["perPage"], query["orderBy"]) == ("1", "100", "createdat.desc")
    assert query["apikey"] == API_KEY


async def test_pages_down_to_the_watermark(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    fake.add(numbered(3, 1))
    conn = connector(url, brands, session, clock, per_page=2, order_by="", language="en")
    first = await conn.poll(None)
    assert sorted(m.external_id for m in first.mentions) == ["tp002", "tp003"]
    fake.add(numbered(5, 4))
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"tp{n:03d}" for n in range(4, 9)]
    assert [r.query["page"] for r in fake.requests] == ["1", "2", "3"]
    assert "orderBy" not in fake.requests[0].query and fake.requests[0].query["language"] == "en"
    assert (await conn.poll(second.cursor)).mentions == []


async def test_empty_result(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = tp
    page = await connector(url, brands, session, clock).poll(None)
    assert page.mentions == [] and page.replies == []
    assert json.loads(page.cursor or "")["streams"] == {f"bu:{UNIT}": {"at": "2026-01-05T09:50:00+00:00", "ids": []}}


async def test_private_endpoint_with_a_token(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    fake.add(reviews())
    page = await connector(url, brands, session, clock, access_token=ACCESS_TOKEN).poll(None)
    assert len(page.mentions) == 3
    request = fake.requests[0]
    assert request.path == f"/v1/private/business-units/{UNIT}/reviews"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "60"}, 60.0), ({}, None)])
async def test_rate_limit(tp, brands, session, clock, headers, retry_after) -> None:  # type: ignore[no-untyped-def]
    # Trustpilot's rate-limit headers are UNCONFIRMED: only a 429 and Retry-After are relied on.
    fake, url = tp
    fake.fail_next(LIST, Scripted(status=429, headers=headers, body='{"message": "API rate limit exceeded"}'))
    with pytest.raises(TransientSourceError) as info:
        await connector(url, brands, session, clock).poll(None)
    assert info.value.retry_after == retry_after


async def test_401_without_the_key_in_the_message(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = tp
    with pytest.raises(SourceAuthError, match="HTTP 401") as info:
        await connector(url, brands, session, clock, api_key="wrong-key-123456").poll(None)
    assert "wrong-key-123456" not in str(info.value)


async def test_unknown_business_unit_needs_an_operator(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = tp
    with pytest.raises(SourceError) as info:
        await connector(url, brands, session, clock, business_unit_id="nope").poll(None)
    assert not isinstance(info.value, TransientSourceError)


async def test_5xx_and_timeout(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    fake.fail_next(LIST, Scripted(status=500, body="<html>error</html>"))
    with pytest.raises(TransientSourceError, match="HTTP 500"):
        await connector(url, brands, session, clock).poll(None)
    fake.fail_next(LIST, Scripted(body='{"reviews": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await connector(url, brands, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"reviews": [', '{"reviews": null}', '[]'])
async def test_malformed_body(tp, brands, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    fake.fail_next(LIST, Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await connector(url, brands, session, clock).poll(None)


async def test_malformed_reviews_are_skipped_and_counted(tp, brands, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    good, no_time, bad_reply = numbered(3, 1)
    no_time["createdAt"] = None
    bad_reply["companyReply"] = {"text": "hi", "createdAt": "whenever"}
    fake.add([good, no_time, bad_reply])
    conn = connector(url, brands, session, clock)
    caplog.set_level(logging.WARNING, logger="connectors.trustpilot")
    page = await conn.poll(None)
    assert sorted(m.external_id for m in page.mentions) == ["tp001", "tp003"]
    assert page.replies == [] and conn.malformed == 2
    assert "'tp002'" in caplog.text and "'tp003'" in caplog.text


async def test_replies_via_the_review_endpoint(tp, brands, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    fake.add(reviews())
    conn = connector(url, brands, session, clock)
    by_id = {m.external_id: m for m in (await conn.poll(None)).mentions}
    slow, refund = reviews()[1], reviews()[2]
    slow["companyReply"] = {"text": "Sorry Tom", "createdAt": "2026-01-05T09:30:00Z"}
    refund["companyReply"]["updatedAt"] = "2026-01-05T09:45:00Z"  # answered the edited version
    fake.add([slow, refund])
    fake.reviews = [r for r in fake.reviews if r["id"] != PARCEL]  # removed: 404
    fake.requests.clear()
    replies = await conn.replies([by_id[SLOW], by_id[REFUND], by_id[PARCEL]])
    assert [(r.in_reply_to, r.created_at) for r in replies] == [
        (SLOW, datetime(2026, 1, 5, 9, 30, tzinfo=UTC)), (REFUND, datetime(2026, 1, 5, 9, 45, tzinfo=UTC))
    ]
    assert [r.path for r in fake.requests] == [f"/v1/reviews/{i}" for i in (SLOW, REFUND, PARCEL)]


def test_config() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        TrustpilotConfig(business_unit_id=UNIT, api_key=" ", brand="acme")
    with pytest.raises(ValidationError, match="business unit id"):
        TrustpilotConfig(business_unit_id="a/b", api_key=API_KEY, brand="acme")
    assert TrustpilotConnector.can_see_replies is True and TrustpilotConnector.type_name == "trustpilot"


async def test_burst_after_an_empty_first_poll_is_read_completely(tp, brands, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = tp
    quiet = FakeClock(datetime(2026, 1, 4, 10, 0, tzinfo=UTC))
    conn = connector(url, brands, session, quiet, per_page=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.add(numbered(12, 1))
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"tp{n:03d}" for n in range(1, 13)]


async def test_an_edit_after_the_reply_is_reported_and_reopens_the_clock(  # type: ignore[no-untyped-def]
    tp, brands, session, clock, make_settings
) -> None:
    from listener.daemon import Daemon
    from listener.store import SyncStore
    from tests.doubles import KeywordClassifier, RecordingSink

    fake, url = tp
    first, second = numbered(2, 1)
    first["text"] = "app broken, nothing loads"
    fake.add([first, second])
    conn = connector(url, brands, session, clock)
    settings = make_settings()

    async def poll() -> None:
        daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={"slack": RecordingSink("slack")},
                        connectors={"tp": conn})
        await daemon.run_once()

    await poll()
    # The company answers (whether that moves the review's updatedAt is UNCONFIRMED: here it does).
    fake.add([{**first, "updatedAt": "2026-01-04T12:00:00.000Z",
               "companyReply": {"text": "Sorry, fixed now", "createdAt": "2026-01-04T12:00:00.000Z"}}])
    clock.advance(timedelta(minutes=5))
    await poll()
    store = SyncStore(settings.listener.database)
    assert [c.state for c in store.complaints()] == ["replied"]
    cursor = store.get_cursor("tp")
    store.close()
    # The customer edits the review after the answer: the edit is reported, the clock runs again.
    fake.add([{**first, "text": "still broken, the reply did not help", "updatedAt": "2026-01-05T09:30:00.000Z",
               "companyReply": {"text": "Sorry, fixed now", "createdAt": "2026-01-04T12:00:00.000Z"}}])
    clock.advance(timedelta(minutes=5))
    edited = await conn.poll(cursor)
    assert [(m.external_id, m.edited_at) for m in edited.mentions] == [
        ("tp001", datetime(2026, 1, 5, 9, 30, tzinfo=UTC))]
    await poll()
    store = SyncStore(settings.listener.database)
    try:
        (case,) = store.complaints()
        text = store.get_mentions(["tp:tp001"])[0].text
    finally:
        store.close()
    assert text.startswith("t1\n\nstill broken")
    assert case.state == "open" and case.opened_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
