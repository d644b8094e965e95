"""What the store takes for one post: an item's external id within its source, a URL or words across sources."""

from __future__ import annotations

from datetime import timedelta

from listener.daemon import Daemon
from listener.domain import Mention, Page
from listener.store import SyncStore
from tests.connectors.test_rss import ALERTS, feeds, make  # noqa: F401 (feeds: the fixture)
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector

PAGE_URL = "https://apps.apple.com/app/id682658836?see-all=reviews"
WORDS = "this app is broken since the last update, nothing loads at all"


def review(clock, source: str, ident: str, author: str = "Ann") -> Mention:  # type: ignore[no-untyped-def]
    return Mention(source=source, external_id=ident, text=WORDS, author=author, url=PAGE_URL,
                   created_at=clock.now() - timedelta(minutes=5), brands=("acme",))


async def ingest(settings, clock, *connectors) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={"slack": RecordingSink("slack")},
                    connectors={c.name: c for c in connectors})
    await daemon.run_once()
    store = SyncStore(settings.listener.database)
    try:
        return [tuple(r) for r in store.db.execute("SELECT key, reach FROM mentions ORDER BY key").fetchall()]
    finally:
        store.close()


async def test_one_source_never_merges_items_with_different_ids(make_settings, clock) -> None:  # type: ignore[no-untyped-def]
    # Same page URL and the same words from the same author: still two reviews, two clocks.
    settings = make_settings()
    rows = await ingest(settings, clock, ScriptedConnector("ios", [Page([review(clock, "ios", "r1"),
                                                                          review(clock, "ios", "r2")], "c")]))
    assert rows == [("ios:r1", 1), ("ios:r2", 1)]


async def test_another_source_with_the_same_url_is_still_one_post(make_settings, clock) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    rows = await ingest(settings, clock, ScriptedConnector("ios", [Page([review(clock, "ios", "r1")], "c")]),
                        ScriptedConnector("ios_feed", [Page([review(clock, "ios_feed", "9001")], "c")]))
    assert rows == [("ios:r1", 2)]


async def test_one_article_in_two_feeds_of_a_source_is_one_mention(feeds, session, make_settings, clock) -> None:  # type: ignore[no-untyped-def]
    fake, url = feeds
    body, kind = fake.documents[ALERTS]
    other = body.replace("googlealerts/feed:11714", "googlealerts/feed:99914")
    fake.documents["/alerts/feeds/1623/other"] = (other, kind)
    first = make(url, session, clock, [ALERTS])
    second = make(url, session, clock, ["/alerts/feeds/1623/other"])  # a later poll sees the other alert
    settings = make_settings()
    rows = await ingest(settings, clock, first)
    rows_after = await ingest(settings, clock, second)
    assert rows == rows_after == [("news:https://news.example.com/acme-outage", 1),
                                  ("news:https://tech.example.org/globex-launch", 1)]
