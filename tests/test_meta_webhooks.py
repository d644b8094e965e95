"""Meta webhooks: subscription check, signatures, storage before the 200, no duplicates with polling, DMs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.base import BrandView
from connectors.facebook import FacebookConfig, FacebookConnector
from connectors.instagram import InstagramConfig, InstagramConnector
from listener.clock import FakeClock
from listener.daemon import Daemon
from listener.domain import Mention, Reply
from listener.store import Store, SyncStore
from listener.webhooks import ROUTE, MetaWebhooks, meta_webhook_targets, signature_of
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph, error_body
from tests.connectors.fake_social import Scripted
from tests.doubles import KeywordClassifier, RecordingSink

APP_SECRET = "meta-app-secret-5f2c"
VERIFY = "verify-me-91ab"
PAGE, IG = "104000000000001", "17841400000000001"
JANE = "200000000000001_300000000000001"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
BRANDS = [BrandView(name="acme", keywords=("acme",))]


def feed_comment(
    comment_id: str = JANE, sender: str = "5001000000000001", name: str = "Jane Doe",
    message: str = "My order never arrived and nobody answers", parent: str | None = None,
) -> dict[str, Any]:
    post = f"{PAGE}_200000000000001"
    return {"object": "page", "entry": [{"id": PAGE, "time": 1767607200, "changes": [{"field": "feed", "value": {
        "from": {"id": sender, "name": name}, "item": "comment", "verb": "add", "post_id": post,
        "comment_id": comment_id, "parent_id": parent or post, "created_time": 1767600000, "message": message,
        "post": {"id": post, "status_type": "added_photos", "is_published": True}}}]}]}


def dm(mid: str, text: str, *, echo: bool = False, ms: int = 1767603600000) -> dict[str, Any]:
    customer = {"id": "7000000000000001"}
    page = {"id": PAGE}
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
        message["app_id"] = 1517776481860111
    return {"object": "page", "entry": [{"id": PAGE, "time": ms, "messaging": [{
        "sender": page if echo else customer, "recipient": customer if echo else page, "timestamp": ms,
        "message": message}]}]}


def signed(payload: Any, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"X-Hub-Signature-256": signature_of(body, secret), "Content-Type": "application/json"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def graph(aiohttp_server) -> AsyncIterator[tuple[FakeGraph, str]]:  # type: ignore[no-untyped-def]
    """One fake Graph API holding both the Page's and the Instagram account's data."""
    fake = FakeGraph("facebook")
    instagram = FakeGraph("instagram")
    fake.edges.update(instagram.edges)
    fake.nodes.update(instagram.nodes)
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store(tmp_path / "listener.db").open()
    yield opened
    await opened.close()


class Harness:
    """The webhook handlers over a real store, with the facebook and instagram connectors."""

    def __init__(self, store: Store, url: str, session: aiohttp.ClientSession) -> None:
        clock = FakeClock(NOW)
        common = {"base_url": url, "access_token": PAGE_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY,
                  "attribute_to": ["acme"]}
        self.facebook = FacebookConnector("facebook", FacebookConfig(page_id=PAGE, **common), BRANDS, session,
                                          clock=clock)
        self.instagram = InstagramConnector("instagram", InstagramConfig(ig_user_id=IG, username="acme", **common),
                                            BRANDS, session, clock=clock)
        self.store = store
        self.fail = False
        targets = meta_webhook_targets([self.facebook, self.instagram])
        self.hooks = MetaWebhooks(targets, self.ingest, self.open_mentions, clock.now)

    async def open_mentions(self, source: str) -> list[Mention]:
        return await self.store.call(SyncStore.open_complaint_mentions, source)

    async def ingest(self, source: str, mentions: list[Mention], replies: list[Reply]) -> None:
        if self.fail:
            raise OSError("disk I/O error")
        await self.store.call(SyncStore.ingest, source, mentions, replies, None, NOW)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        reader = SyncStore(self.store.path)  # the async store's connection belongs to its own thread
        try:
            return [tuple(r) for r in reader.db.execute(sql).fetchall()]
        finally:
            reader.close()


@pytest.fixture
async def hooks(graph, store, aiohttp_client, session):  # type: ignore[no-untyped-def]
    _, url = graph
    harness = Harness(store, url, session)
    app = aiohttp.web.Application()
    harness.hooks.add_routes(app)
    client = await aiohttp_client(app)
    return harness, client


async def test_subscription_challenge(hooks) -> None:  # type: ignore[no-untyped-def]
    _, client = hooks
    ok = await client.get(
        ROUTE, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    )
    assert ok.status == 200 and await ok.text() == "1158201444"
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
                   {"hub.challenge": "1"}):
        assert (await client.get(ROUTE, params=params)).status == 403


async def test_unsigned_tampered_or_foreign_deliveries_are_refused(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    body, headers = signed(feed_comment())
    assert (await client.post(ROUTE, data=body, headers={"Content-Type": "application/json"})).status == 401
    assert (await client.post(ROUTE, data=body.replace(b"Jane", b"Joan"), headers=headers)).status == 401
    _, other = signed(feed_comment(), secret="someone-elses-app")
    assert (await client.post(ROUTE, data=body, headers=other)).status == 401
    sha1 = {"X-Hub-Signature": headers["X-Hub-Signature-256"].replace("sha256", "sha1")}
    assert (await client.post(ROUTE, data=body, headers=sha1)).status == 401
    assert harness.rows("SELECT count(*) FROM mentions") == [(0,)]


async def test_a_comment_is_stored_before_the_200_and_polling_does_not_duplicate_it(hooks, graph) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    body, headers = signed(feed_comment())
    response = await client.post(ROUTE, data=body, headers=headers)
    assert response.status == 200
    assert harness.rows("SELECT key, conversation_id, in_reply_to FROM mentions") == [(f"facebook:{JANE}", JANE, None)]
    again = await client.post(ROUTE, data=body, headers=headers)  # Meta redelivers
    assert again.status == 200
    page = await harness.facebook.poll(None)  # the same comment, later seen by polling
    assert JANE in {m.external_id for m in page.mentions}
    new = await harness.store.call(SyncStore.ingest, "facebook", page.mentions, page.replies, page.cursor, NOW)
    assert f"facebook:{JANE}" not in new
    assert harness.rows(f"SELECT count(*) FROM mentions WHERE external_id = '{JANE}'") == [(1,)]
    assert harness.rows("SELECT count(*) FROM mention_sightings WHERE mention_key = 'facebook:" + JANE + "'") == [(1,)]


async def test_the_pages_comment_by_webhook_is_a_reply(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    await client.post(ROUTE, data=signed(feed_comment())[0], headers=signed(feed_comment())[1])
    answer = feed_comment("200000000000001_300000000000002", PAGE, "Acme", "Sorry Jane, check your DMs", parent=JANE)
    body, headers = signed(answer)
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    assert harness.rows("SELECT key, mention_key FROM replies") == [
        ("facebook:200000000000001_300000000000002", f"facebook:{JANE}")]
    assert harness.rows("SELECT count(*) FROM mentions") == [(1,)]


async def test_messenger_messages_are_direct_messages_and_echoes_answer_them(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    for payload in (dm("m_first", "Where is my order #123?"), dm("m_second", "Hello??", ms=1767603700000),
                    dm("m_echo", "Looking into it now", echo=True, ms=1767603800000)):
        body, headers = signed(payload)
        assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    rows = harness.rows("SELECT external_id, conversation_id, raw FROM mentions ORDER BY created_at")
    assert [r[0] for r in rows] == ["m_first", "m_second"]
    assert {r[1] for r in rows} == {f"dm:{PAGE}:7000000000000001"}
    assert all(json.loads(r[2])["channel"] == "direct_message" for r in rows)
    # The echo answers the customer's latest message before it (the case holds both).
    assert harness.rows("SELECT key, mention_key FROM replies") == [("facebook:m_echo", "facebook:m_second")]


async def test_instagram_direct_messages(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    customer, account = {"id": "6300000000000001"}, {"id": IG}
    for sender, recipient, mid, extra, ms in ((customer, account, "aWdfZmFrZTE", {}, 1767603600000),
                                              (account, customer, "aWdfZmFrZTI", {"is_echo": True}, 1767603660000)):
        payload = {"object": "instagram", "entry": [{"id": IG, "time": ms, "messaging": [{
            "sender": sender, "recipient": recipient, "timestamp": ms,
            "message": {"mid": mid, "text": "acme refund?" if not extra else "Checking!", **extra}}]}]}
        body, headers = signed(payload)
        assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    (row,) = harness.rows("SELECT key, conversation_id, raw FROM mentions")
    assert row[:2] == ("instagram:aWdfZmFrZTE", f"dm:{IG}:6300000000000001")
    assert json.loads(row[2])["channel"] == "direct_message"
    assert harness.rows("SELECT mention_key FROM replies") == [("instagram:aWdfZmFrZTE",)]


async def test_a_dm_by_webhook_and_again_by_polling_is_one_mention(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    body, headers = signed(dm("m_002", "Order 123 never arrived", ms=1767605460000))
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    config = harness.facebook.config.model_copy(update={"messages": True, "feed": False, "comments": False})
    poller = FacebookConnector("facebook", config, BRANDS, harness.facebook.session, clock=FakeClock(NOW))
    page = await poller.poll(None)
    new = await harness.store.call(SyncStore.ingest, "facebook", page.mentions, page.replies, page.cursor, NOW)
    assert new == ["facebook:m_001"]  # m_002 came by webhook already
    assert harness.rows("SELECT key FROM mentions ORDER BY key") == [("facebook:m_001",), ("facebook:m_002",)]
    assert harness.rows("SELECT DISTINCT conversation_id FROM mentions") == [(f"dm:{PAGE}:7000000000000001",)]
    assert harness.rows("SELECT key, mention_key FROM replies") == [("facebook:m_003", "facebook:m_002")]


async def test_instagram_comments_and_mentions(hooks, graph) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    fake, _ = graph
    comment = {"object": "instagram", "entry": [{"id": IG, "time": 1767607200, "changes": [
        {"field": "comments", "value": {"from": {"id": "6100000000000009", "username": "newbie"},
                                        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
                                        "id": "17850000000000099", "text": "acme where is my parcel"}},
        {"field": "mentions", "value": {"media_id": "17920000000000001"}},
        {"field": "comments", "value": {"text": "no id, no author"}}]}]}
    body, headers = signed(comment)
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    rows = dict(harness.rows("SELECT key, author FROM mentions"))
    assert rows == {"instagram:17850000000000099": "@newbie", "instagram:17920000000000001": "@angry_customer"}
    assert fake.requests[-1].query["fields"].startswith("mentioned_media.media_id(17920000000000001)")


async def test_an_instagram_comment_by_webhook_and_by_polling_is_one_mention(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    comment = {"object": "instagram", "entry": [{"id": IG, "time": 1767600000, "changes": [
        {"field": "comments", "value": {"from": {"id": "6100000000000001", "username": "jdoe"},
                                        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
                                        "id": "17850000000000001", "text": "Acme charged me twice for one pair"}}]}]}
    body, headers = signed(comment)
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    page = await harness.instagram.poll(None)
    assert "17850000000000001" in {m.external_id for m in page.mentions}
    new = await harness.store.call(SyncStore.ingest, "instagram", page.mentions, page.replies, page.cursor, NOW)
    assert "instagram:17850000000000001" not in new
    assert harness.rows("SELECT count(*) FROM mentions WHERE external_id = '17850000000000001'") == [(1,)]
    # The account's answer, found by polling, stops what the webhook brought.
    assert harness.rows("SELECT mention_key FROM replies") == [("instagram:17850000000000001",)]


async def test_a_failed_lookup_or_store_asks_meta_to_deliver_again(hooks, graph) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    fake, _ = graph
    fake.fail_next(f"/v24.0/{IG}", Scripted(status=400, body=error_body(4, "Application request limit reached")))
    mention = {"object": "instagram", "entry": [{"id": IG, "time": 1767607200, "changes": [
        {"field": "mentions", "value": {"media_id": "17920000000000001"}}]}]}
    body, headers = signed(mention)
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 503
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    harness.fail = True
    body, headers = signed(feed_comment())
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 503
    harness.fail = False
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    assert harness.rows("SELECT count(*) FROM mentions") == [(2,)]


async def test_a_slow_lookup_is_abandoned_before_meta_gives_up(hooks, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    fake, _ = graph
    monkeypatch.setattr("listener.webhooks.MAPPING_LIMIT", 0.2)
    fake.fail_next(f"/v24.0/{IG}", Scripted(body="{}", delay_body=2))
    mention = {"object": "instagram", "entry": [{"id": IG, "time": 1767607200, "changes": [
        {"field": "mentions", "value": {"media_id": "17920000000000001"}}]}]}
    body, headers = signed(mention)
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 503
    assert harness.rows("SELECT count(*) FROM mentions") == [(0,)]


async def test_entries_for_unknown_accounts_and_bad_bodies(hooks) -> None:  # type: ignore[no-untyped-def]
    harness, client = hooks
    stranger = feed_comment()
    stranger["entry"][0]["id"] = "999"
    body, headers = signed(stranger)
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 200
    body, headers = signed({"object": "page"})
    assert (await client.post(ROUTE, data=body, headers=headers)).status == 400
    raw = b"{not json"
    refused = await client.post(ROUTE, data=raw, headers={"X-Hub-Signature-256": signature_of(raw, APP_SECRET)})
    assert refused.status == 400
    assert harness.rows("SELECT count(*) FROM mentions") == [(0,)]


def test_webhooks_need_the_app_secret() -> None:
    with pytest.raises(ValueError, match="needs app_secret"):
        FacebookConfig(page_id=PAGE, access_token="t", verify_token="v")


async def test_the_daemon_serves_the_route_and_classifies_what_arrives(aiohttp_server, make_settings) -> None:  # type: ignore[no-untyped-def]
    fake = FakeGraph("facebook")
    fake.edges = {k: [] for k in fake.edges}  # polling finds nothing: what is stored came by webhook
    server = await aiohttp_server(fake.app())
    settings = make_settings(
        {"api": {"port": 0, "enabled": False},
         "connectors": {"facebook": {"page_id": PAGE, "access_token": "${T}", "app_secret": "${S}",
                                     "verify_token": "${V}", "base_url": str(server.make_url("")).rstrip("/"),
                                     "poll_interval": "1h", "attribute_to": ["acme"]}}},
        T=PAGE_TOKEN, S=APP_SECRET, V=VERIFY)
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={"recording": RecordingSink()})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until(lambda: daemon.web_port is not None)
        body, headers = signed(feed_comment(message="acme lost my order"))
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{daemon.web_port}{ROUTE}"
            check = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                "hub.challenge": "42"})
            assert await check.text() == "42"
            assert (await http.post(url, data=body, headers=headers)).status == 200
        await _until(lambda: _classified(settings, f"facebook:{JANE}"))
    finally:
        daemon.stop()
        await task


async def test_a_direct_message_runs_on_the_direct_message_policy(aiohttp_server, make_settings) -> None:  # type: ignore[no-untyped-def]
    fake = FakeGraph("facebook")
    fake.edges = {k: [] for k in fake.edges}
    server = await aiohttp_server(fake.app())
    settings = make_settings(
        {"api": {"port": 0, "enabled": False},
         "sla": {"policies": [{"name": "dms", "channels": ["direct_message"], "first_response": "15m"},
                              {"name": "public", "first_response": "60m"}]},
         "connectors": {"facebook": {"page_id": PAGE, "access_token": "${T}", "app_secret": "${S}",
                                     "verify_token": "${V}", "base_url": str(server.make_url("")).rstrip("/"),
                                     "poll_interval": "1h", "attribute_to": ["acme"]}}},
        T=PAGE_TOKEN, S=APP_SECRET, V=VERIFY)
    daemon = Daemon(settings, classifier=KeywordClassifier(), sinks={"recording": RecordingSink()})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until(lambda: daemon.web_port is not None)
        sent = int(time.time() * 1000)
        body, headers = signed(dm("m_live", "acme my order is broken and nobody answers", ms=sent))
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{daemon.web_port}{ROUTE}"
            assert (await http.post(url, data=body, headers=headers)).status == 200
        await _until(lambda: bool(_complaints(settings)))
    finally:
        daemon.stop()
        await task
    (case,) = _complaints(settings)
    assert case.mention_key == "facebook:m_live"
    assert (case.deadline - case.opened_at).total_seconds() == 15 * 60  # the DM policy, not the public one


def _complaints(settings: Any) -> list[Any]:
    store = SyncStore(settings.listener.database)
    try:
        return store.complaints()
    finally:
        store.close()


def _classified(settings: Any, key: str) -> bool:
    store = SyncStore(settings.listener.database)
    try:
        row = store.db.execute("SELECT classified_at FROM mentions WHERE key = ?", [key]).fetchone()
        return bool(row and row[0])
    finally:
        store.close()


async def _until(predicate: Any, seconds: float = 10) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)
