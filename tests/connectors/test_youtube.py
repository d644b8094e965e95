"""YouTubeConnector against a loopback fake Data API v3 (shapes as in apis.md §9)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from connectors._http import MalformedResponseError
from connectors.base import BrandView
from connectors.youtube import YouTubeConfig, YouTubeConnector
from listener.clock import FakeClock
from listener.errors import SourceAuthError, TransientSourceError
from tests.connectors.fake_social import Scripted
from tests.connectors.fake_youtube import ACCESS_TOKEN, API_KEY, NO_PERMISSION_TOKEN, FakeYouTube

BRANDS = [
    BrandView(name="acme", keywords=("acme",), handles=("UCbrand",)), BrandView(name="globex", keywords=("globex",))
]
THREAD, ANSWER, FOLLOW_UP = (
    "UgzDE2tasfmrYLyNkGt4AaABAg", "UgzDE2tasfmrYLyNkGt4AaABAg.9x1", "UgzDE2tasfmrYLyNkGt4AaABAg.9x0"
)
QUOTA = json.dumps({"error": {
    "code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
    "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}],
}})


@pytest.fixture
async def yt(aiohttp_server) -> AsyncIterator[tuple[FakeYouTube, str]]:  # type: ignore[no-untyped-def]
    fake = FakeYouTube()
    server = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("/youtube/v3"))


def make(url: str, session: aiohttp.ClientSession, clock: FakeClock, **config: Any) -> YouTubeConnector:
    settings: dict[str, Any] = {"base_url": url, "api_key": API_KEY, "channel_id": "UCbrand", **config}
    return YouTubeConnector("yt", YouTubeConfig(**settings), BRANDS, session, clock=clock)


def thread(n: int, minute: int) -> dict[str, Any]:
    ident = f"UgzNew{n:04d}"
    return {"kind": "youtube#commentThread", "id": ident, "snippet": {
        "channelId": "UCbrand", "videoId": "vid00000001", "totalReplyCount": 0, "topLevelComment": {
            "kind": "youtube#comment", "id": ident, "snippet": {
                "videoId": "vid00000001", "textOriginal": f"acme issue {n}", "authorDisplayName": f"@user{n}",
                "authorChannelId": {"value": f"UCuser{n}"},
                "publishedAt": datetime(2026, 1, 5, 9, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}}}


async def test_first_poll(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    page = await make(url, session, clock, attribute_to=["acme"]).poll(None)
    by_id = {m.external_id: m for m in page.mentions}
    # The channel's own pinned comment is not a mention; the customer's follow-up is.
    assert sorted(by_id) == sorted([THREAD, FOLLOW_UP, "UgzThreadTwo000000002"])
    top = by_id[THREAD]
    assert (top.author, top.text, top.conversation_id) == ("@jdoe", "Acme charged me twice", THREAD)
    assert top.url == f"https://www.youtube.com/watch?v=vid00000001&lc={THREAD}"
    assert top.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and top.brands == ("acme",)
    assert by_id[FOLLOW_UP].in_reply_to == THREAD
    assert by_id["UgzThreadTwo000000002"].brands == ("acme",)  # attribute_to: the brand's own channel
    assert by_id["UgzThreadTwo000000002"].edited_at == datetime(2026, 1, 5, 8, 45, tzinfo=UTC)
    assert [(r.external_id, r.in_reply_to, r.author) for r in page.replies] == [(ANSWER, THREAD, "@Acme")]
    query = fake.requests[0].query
    assert query["allThreadsRelatedToChannelId"] == "UCbrand" and query["order"] == "time"
    assert query["part"] == "snippet,replies" and query["key"] == API_KEY


async def test_pages_down_to_the_mark(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    conn = make(url, session, clock, max_results=2, overlap="0s")
    first = await conn.poll(None)
    assert len(fake.requests) == 1
    fake.threads += [thread(n, n) for n in range(1, 5)]
    fake.requests.clear()
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"UgzNew{n:04d}" for n in range(1, 5)]
    # The third page reaches the 08:40 comment seen last time: no need to read further back.
    assert [r.query.get("pageToken") for r in fake.requests] == [None, "2", "4"]
    assert (await conn.poll(second.cursor)).mentions == []


async def test_empty_video(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = yt
    page = await make(url, session, clock, channel_id=None, video_ids=["nocomments1"]).poll(None)
    assert page.mentions == []
    streams = json.loads(page.cursor or "")["streams"]
    assert streams == {"video:nocomments1": {"at": clock.now().isoformat(), "seen": {}}}


async def test_quota_exceeded_is_a_403_that_waits_for_pacific_midnight(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    fake.fail_next("/youtube/v3/commentThreads", Scripted(status=403, body=QUOTA))
    with pytest.raises(TransientSourceError, match="quotaExceeded") as info:
        await make(url, session, clock).poll(None)
    # 10:00 UTC is 02:00 in Los Angeles (PST): 22 hours to midnight.
    assert info.value.retry_after == 22 * 3600


async def test_per_minute_rate_limit(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    body = QUOTA.replace("quotaExceeded", "rateLimitExceeded")
    fake.fail_next("/youtube/v3/commentThreads", Scripted(status=403, body=body))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 60.0


async def test_429_with_retry_after(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    fake.fail_next("/youtube/v3/commentThreads", Scripted(status=429, body="{}", headers={"Retry-After": "15"}))
    with pytest.raises(TransientSourceError) as info:
        await make(url, session, clock).poll(None)
    assert info.value.retry_after == 15.0


async def test_bad_key_and_bad_token(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    with pytest.raises(SourceAuthError, match="API key not valid") as info:
        await make(url, session, clock, api_key="AIza-wrong-key").poll(None)
    assert "AIza-wrong-key" not in str(info.value)
    old_style = (
        '{"error": {"code": 400, "message": "Bad Request", '
        '"errors": [{"domain": "usageLimits", "reason": "keyInvalid", "message": "Bad Request"}]}}'
    )
    fake.fail_next("/youtube/v3/commentThreads", Scripted(status=400, body=old_style))
    with pytest.raises(SourceAuthError, match="keyInvalid"):
        await make(url, session, clock).poll(None)
    with pytest.raises(SourceAuthError, match="forbidden"):
        await make(url, session, clock, api_key=None, access_token=NO_PERMISSION_TOKEN).poll(None)
    page = await make(url, session, clock, api_key=None, access_token=ACCESS_TOKEN).poll(None)
    assert len(page.mentions) == 3
    fake.fail_next("/youtube/v3/commentThreads", Scripted(status=401, body='{"error": {"code": 401}}'))
    with pytest.raises(SourceAuthError):
        await make(url, session, clock).poll(None)


async def test_disabled_comments_skip_only_that_video(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    _, url = yt
    page = await make(url, session, clock, channel_id=None, video_ids=["disabled", "vid00000001"]).poll(None)
    assert len(page.mentions) == 3


async def test_5xx_and_timeout(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    fake.fail_next("/youtube/v3/commentThreads", Scripted(status=500, body='{"error": {"code": 500}}'))
    with pytest.raises(TransientSourceError):
        await make(url, session, clock).poll(None)
    fake.fail_next("/youtube/v3/commentThreads", Scripted(body='{"items": []}', delay_body=5))
    with pytest.raises(TransientSourceError, match="no complete answer"):
        await make(url, session, clock, timeout="50ms").poll(None)


@pytest.mark.parametrize("body", ['{"items": [', '{"items": "x"}', "null"])
async def test_malformed_body(yt, session, clock, body) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    fake.fail_next("/youtube/v3/commentThreads", Scripted(body=body))
    with pytest.raises(MalformedResponseError):
        await make(url, session, clock).poll(None)


async def test_malformed_threads_are_skipped(yt, session, clock, caplog) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    broken = thread(2, 2)
    del broken["snippet"]["topLevelComment"]
    no_time = thread(3, 3)
    no_time["snippet"]["topLevelComment"]["snippet"]["publishedAt"] = "later"
    fake.threads = [thread(1, 1), broken, no_time]
    conn = make(url, session, clock)
    page = await conn.poll(None)
    assert [m.external_id for m in page.mentions] == ["UgzNew0001"]
    assert conn.malformed == 2 and "UgzNew0002" in caplog.text


async def test_replies_look_up_threads_and_fetch_missing_replies(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    late = copy.deepcopy(fake.threads[2]["replies"]["comments"][0])
    late["id"] = THREAD + ".9x9"
    late["snippet"]["publishedAt"] = "2026-01-05T09:00:00Z"
    fake.extra_replies[THREAD] = [late]
    fake.threads[2]["snippet"]["totalReplyCount"] = 3  # more than the two inlined
    fake.requests.clear()
    replies = await conn.replies(mentions)
    assert sorted((r.external_id, r.in_reply_to) for r in replies) == [
        (ANSWER, THREAD),  # earliest brand reply after the comment
        (ANSWER, FOLLOW_UP),  # 08:30 is after the 08:10 follow-up too
    ]
    lookup, listing = fake.requests
    assert sorted(lookup.query["id"].split(",")) == sorted([THREAD, "UgzThreadTwo000000002"])
    assert listing.path == "/youtube/v3/comments" and listing.query["parentId"] == THREAD


def test_config_needs_credentials_and_a_target() -> None:
    with pytest.raises(ValueError, match="api_key"):
        YouTubeConfig(channel_id="UC1")
    assert YouTubeConfig(channel_id="UC1", api_key="", enabled=False).channel_id == "UC1"
    with pytest.raises(ValueError, match="channel_id or video_ids"):
        YouTubeConfig(api_key="k")


async def test_burst_after_an_empty_first_poll_is_read_completely(yt, session) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    fake.threads = []
    quiet = FakeClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    conn = make(url, session, quiet, max_results=5)
    first = await conn.poll(None)
    assert first.mentions == []
    fake.threads = [thread(n, n) for n in range(1, 13)]
    quiet.advance(timedelta(hours=2))
    second = await conn.poll(first.cursor)
    assert sorted(m.external_id for m in second.mentions) == [f"UgzNew{n:04d}" for n in range(1, 13)]


@pytest.mark.parametrize("credentials", [{"api_key": "AIza-wrong-key"},
                                         {"api_key": None, "access_token": NO_PERMISSION_TOKEN}], ids=["key", "token"])
async def test_rejected_credentials_are_auth_failed_with_one_alert(  # type: ignore[no-untyped-def]
    yt, session, clock, make_settings, credentials
) -> None:
    from listener.daemon import Daemon
    from listener.store import SyncStore
    from tests.doubles import KeywordClassifier, RecordingSink

    _, url = yt
    settings, sink = make_settings(), RecordingSink()
    conn = make(url, session, clock, **credentials)
    for _ in range(3):
        daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={sink.name: sink},
                        connectors={"yt": conn})
        await daemon.run_once()
        clock.advance(timedelta(minutes=5))
    assert [e.state for e, _ in sink.events] == ["auth_failed"]
    store = SyncStore(settings.listener.database)
    try:
        assert {row["source"]: row["state"] for row in store.health()} == {"yt": "auth_failed"}
    finally:
        store.close()


async def test_replies_sweep_skips_a_thread_whose_replies_are_not_a_list(yt, session, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = yt
    conn = make(url, session, clock)
    mentions = (await conn.poll(None)).mentions
    for item in fake.threads:
        item["replies"] = ["not", "an", "object"]
    assert await conn.replies(mentions) == []
