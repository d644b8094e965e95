"""Property: any JSON an API or webhook sends as one item is mapped or skipped (logged), never raised."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors._meta_webhook import entry_items
from connectors._watermark import Watermark
from connectors.base import BrandView
from connectors.facebook import FacebookConfig, FacebookConnector
from connectors.instagram import InstagramConfig, InstagramConnector
from connectors.linkedin import LinkedInConfig, LinkedInConnector
from connectors.threads import ThreadsConfig, ThreadsConnector
from listener.clock import FakeClock

NOW = datetime(2026, 1, 5, 10, tzinfo=UTC)
BRANDS = [BrandView(name="acme", keywords=("acme",))]
KEYS = st.sampled_from(["id", "from", "message", "text", "created_time", "timestamp", "parent", "parent_id",
                        "username", "replies", "data", "replied_to", "root_post", "$URN", "commentUrn", "actor",
                        "created", "time", "parentComment", "comment_id", "post_id", "item", "verb", "mid",
                        "sender", "recipient", "is_echo", "open_graph_story", "reviewer", "rating", "name"])
SCALARS = st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30) | \
    st.floats(allow_nan=True) | st.text(max_size=12) | st.sampled_from(["2026-01-05T09:00:00+0000", "104", "\ud800"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS | st.text(max_size=4),
                                                                                        inner, max_size=6),
                    max_leaves=25)
ITEMS = st.dictionaries(KEYS, JSON, max_size=10) | JSON


def connectors() -> tuple[FacebookConnector, InstagramConnector, ThreadsConnector, LinkedInConnector]:
    session: Any = aiohttp.ClientSession.__new__(aiohttp.ClientSession)  # never used: no request is made
    clock = FakeClock(NOW)
    return (
        FacebookConnector("fb", FacebookConfig(access_token="t", page_id="104"), BRANDS, session, clock=clock),
        InstagramConnector("ig", InstagramConfig(access_token="t", ig_user_id="178", username="acme"), BRANDS,
                           session, clock=clock),
        ThreadsConnector("th", ThreadsConfig(access_token="t", username="acme"), BRANDS, session, clock=clock),
        LinkedInConnector("li", LinkedInConfig(access_token="t", organization_id="1"), BRANDS, session, clock=clock),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=ITEMS)
def test_every_item_mapper_maps_or_skips(item: Any) -> None:
    fb, ig, th, li = connectors()
    mentions: dict[str, Any] = {}
    replies: dict[str, Any] = {}
    taken: list[Any] = []
    fb._comment(item, "104_1", Watermark(), mentions, replies, taken)
    fb._feed_item(item, Watermark(), mentions, taken, [])
    ig._comment(item, {"id": "1", "permalink": "https://www.instagram.com/p/x/"}, None, Watermark(), mentions,
                replies, taken)
    th._take(item, Watermark(), mentions, replies, taken)
    li._take(item, "urn:li:share:1", None, Watermark(), mentions, replies, taken)
    for mention in mentions.values():
        assert mention.created_at.tzinfo is not None and mention.external_id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.dictionaries(st.sampled_from(["id", "time", "changes", "messaging"]), JSON, max_size=4),
       change=st.dictionaries(st.sampled_from(["field", "value"]), JSON | st.sampled_from(["feed", "comments"])),
       event=ITEMS, obj=st.sampled_from(["page", "instagram"]))
def test_every_webhook_entry_maps_or_skips(entry: dict[str, Any], change: dict[str, Any], event: Any, obj: str) -> None:
    fb, ig, _, _ = connectors()
    account = (fb if obj == "page" else ig).webhook_account()
    async def each() -> None:
        for shaped in (entry, {**entry, "changes": [change]}, {**entry, "messaging": [event]}):
            items = await entry_items(account, obj, shaped, NOW)
            for mention in items.mentions:
                assert mention.source == account.source and mention.created_at.tzinfo is not None

    asyncio.run(each())
