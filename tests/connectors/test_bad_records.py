"""One bad record never stalls a source: every connector's mapper skips whatever a record holds.

Each connector polls a page whose records are a real one from its fixtures and, before it, an
arbitrary JSON value (or the real record with fields replaced by arbitrary JSON). The poll must
not raise, must still return the real record's mention, and must return a cursor.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

import connectors.app_store as app_store_module
from connectors._http import Response
from connectors.app_store import AppStoreConfig, AppStoreConnector, AppStoreRssConfig, AppStoreRssConnector
from connectors.base import BrandView
from connectors.bluesky import BlueskyConfig, BlueskyConnector
from connectors.discourse import DiscourseConfig, DiscourseConnector
from connectors.google_business import GoogleBusinessConfig, GoogleBusinessConnector
from connectors.google_play import GooglePlayConfig, GooglePlayConnector
from connectors.hackernews import HackerNewsConfig, HackerNewsConnector
from connectors.mastodon import MastodonConfig, MastodonConnector
from connectors.reddit import RedditConfig, RedditConnector
from connectors.trustpilot import TrustpilotConfig, TrustpilotConnector
from connectors.x import XConfig, XConnector
from connectors.yelp import YelpConfig, YelpConnector
from connectors.youtube import YouTubeConfig, YouTubeConnector
from listener.clock import FakeClock
from listener.domain import Page
from tests.connectors.conftest import NOW
from tests.connectors.fake_reviews import ec_key_pem, load_fixture

BRANDS = [BrandView(name="acme", keywords=("acme", "refund", "sync"), handles=("@acme",))]
URL = "http://127.0.0.1:9"

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def mutated(template: Any) -> st.SearchStrategy[Any]:
    """`template` with some of its fields (at any depth) replaced by arbitrary JSON or removed."""
    if isinstance(template, dict) and template:
        keys = list(template)

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            out = copy.deepcopy(template)
            for key in keys:
                choice = draw(st.integers(0, 5))
                if choice == 0:
                    out[key] = draw(JSON)
                elif choice == 1:
                    del out[key]
                elif choice == 2:
                    out[key] = draw(mutated(template[key]))
            return out

        return build()
    if isinstance(template, list) and template:
        return st.lists(mutated(template[0]), max_size=3) | JSON
    return JSON


@dataclass(frozen=True)
class Case:
    """How to build one connector and the page it is served, around one record."""

    make: Callable[[], Any]
    good: Any  # a real record from the fixtures
    page: Callable[[list[Any]], Any]  # records -> response body
    patch: str = "get"  # the connector method that performs requests
    template: Any = None  # the record whose fields are mutated (default: `good`)


def fixture(kind: str, name: str) -> Any:
    return load_fixture(kind, name)


def x_page(records: list[Any]) -> dict[str, Any]:
    data = fixture("x", "search.json")
    meta = {"newest_id": "1879000000000000999", "result_count": 2}
    return {"data": records, "includes": data["includes"], "meta": meta}


def reddit_child(record: Any) -> Any:
    return {"kind": "t3", "data": record} if isinstance(record, dict) and "title" in record else record


def logged_in(conn: BlueskyConnector) -> BlueskyConnector:
    """A Bluesky connector that already holds a session (search needs a login)."""
    conn._access = "session-token"
    return conn


CASES: dict[str, Case] = {
    "hackernews": Case(
        lambda: HackerNewsConnector("hn", HackerNewsConfig(base_url=URL, search=["acme"], brand_comments=False),
                                    BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("hackernews", "search_by_date.json")["hits"][0], lambda rs: {"hits": rs, "nbPages": 1}),
    "reddit": Case(
        lambda: RedditConnector("reddit", RedditConfig(base_url=URL, search=["acme"], brand_comments=False),
                                BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("reddit", "search.json")["data"]["children"][0]["data"],
        lambda rs: {"kind": "Listing", "data": {"after": None, "children": [reddit_child(r) for r in rs]}}),
    "bluesky": Case(
        lambda: logged_in(BlueskyConnector(
            "bsky", BlueskyConfig(base_url=URL, search=["acme"], brand_feeds=False, identifier="me.bsky.social",
                                  app_password="app-pw"), BRANDS, None, clock=FakeClock(NOW))),  # type: ignore[arg-type]
        fixture("bluesky", "posts.json")[0], lambda rs: {"posts": rs}),
    "youtube": Case(
        lambda: YouTubeConnector("yt", YouTubeConfig(base_url=URL, api_key="k", channel_id="UCbrand"),
                                 BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("youtube", "threads.json")["items"][1], lambda rs: {"items": rs},
        template=fixture("youtube", "threads.json")["items"][2]),
    "x": Case(
        lambda: XConnector("x", XConfig(base_url=URL, bearer_token="t", brand_replies=False),
                           BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("x", "search.json")["data"][0], x_page),
    "mastodon": Case(
        lambda: MastodonConnector("fedi", MastodonConfig(base_url=URL, access_token="t", search=[], hashtags=["acme"]),
                                  BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("mastodon", "statuses.json")[1],
        lambda rs: rs, patch="_get"),
    "discourse": Case(
        lambda: DiscourseConnector("forum", DiscourseConfig(base_url=URL), BRANDS, None,
                                   clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("discourse", "posts.json")["latest_posts"][0], lambda rs: {"latest_posts": rs}),
    "trustpilot": Case(
        lambda: TrustpilotConnector("tp", TrustpilotConfig(business_unit_id="46d6a890000064000500e0c3", api_key="k",
                                                           brand="acme", base_url=URL), BRANDS, None,
                                    clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("trustpilot", "reviews.json")["reviews"][0], lambda rs: {"reviews": rs}, patch="_get"),
    "google_play": Case(
        lambda: GooglePlayConnector("play", GooglePlayConfig(package_name="com.acme.app", brand="acme", base_url=URL,
                                                             access_token="tok"), BRANDS, None,
                                    clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("google_play", "reviews.json")["reviews"][0], lambda rs: {"reviews": rs}, patch="_get"),
    "google_business": Case(
        lambda: GoogleBusinessConnector("gbp", GoogleBusinessConfig(locations=["accounts/1/locations/2"], brand="acme",
                                                                    base_url=URL, access_token="tok"), BRANDS, None,
                                        clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("google_business", "reviews.json")["reviews"][0], lambda rs: {"reviews": rs}, patch="_get"),
    "app_store": Case(
        lambda: AppStoreConnector("ios", AppStoreConfig(app_id="682658836", issuer_id="i", key_id="k", brand="acme",
                                                        private_key=ec_key_pem()[0], base_url=URL), BRANDS, None,
                                  clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("app_store", "customer_reviews.json")["data"][0], lambda rs: {"data": rs, "links": {}}, patch="_get"),
    "app_store_rss": Case(
        lambda: AppStoreRssConnector("ios_feed", AppStoreRssConfig(app_id="682658836", brand="acme", base_url=URL),
                                     BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        next(e for e in fixture("app_store", "rss_feed.json")["feed"]["entry"] if "im:rating" in e),
        lambda rs: {"feed": {"entry": rs}}, patch="request"),
    "yelp": Case(
        lambda: YelpConnector("yelp", YelpConfig(businesses=["acme-coffee"], api_key="k", brand="acme", base_url=URL),
                              BRANDS, None, clock=FakeClock(NOW)),  # type: ignore[arg-type]
        fixture("yelp", "reviews.json")["reviews"][0], lambda rs: {"reviews": rs}, patch="_get"),
}


def serve(case: Case, records: list[Any], monkeypatch: pytest.MonkeyPatch) -> Page:
    """Poll a fresh connector whose every request is answered with `records`."""
    body = case.page(records)

    async def answer(*_: Any, **__: Any) -> Response:
        return Response(status=200, url=URL, headers=CIMultiDictProxy(CIMultiDict()),
                        body=json.dumps(body).encode(), data=copy.deepcopy(body))

    conn = case.make()
    if case.patch == "request":
        monkeypatch.setattr(app_store_module, "request", answer)
    else:
        setattr(conn, case.patch, answer)
    return asyncio.run(conn.poll(None))


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_mapper_skips_what_it_cannot_read(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    wanted = {m.external_id for m in serve(case, [case.good], monkeypatch).mentions}
    assert wanted, f"{name}: the fixture record should be a mention"

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(bad=JSON | mutated(case.template if case.template is not None else case.good))
    def check(bad: Any) -> None:
        with monkeypatch.context() as patched:
            page = serve(case, [bad, case.good], patched)
        assert wanted <= {m.external_id for m in page.mentions}
        assert page.cursor

    check()


def test_jsonl_skips_any_line_and_moves_on(tmp_path_factory: pytest.TempPathFactory) -> None:
    from connectors.jsonl import JsonlConfig, JsonlConnector

    good = {"id": "m-good", "text": "acme order late", "author": "@c", "created_at": "2026-01-15T09:00:00Z"}
    template = {**good, "id": "m-bad", "url": "https://x.example/1", "lang": "en", "in_reply_to": None,
                "author_name": "C", "followers": 3, "brand": "acme", "conversation_id": "c-1"}
    folder = tmp_path_factory.mktemp("jsonl")

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(bad=JSON | mutated(template))
    def check(bad: Any) -> None:
        path = folder / "m.jsonl"
        path.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
        conn = JsonlConnector("import", JsonlConfig(path=path), BRANDS, None, clock=FakeClock(NOW))
        page = asyncio.run(conn.poll(None))
        assert "m-good" in {m.external_id for m in page.mentions}
        assert json.loads(page.cursor or "")["line"] == 2

    check()
