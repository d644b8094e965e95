"""One post, one case, one clock: duplicates add reach, follow-ups join, bots and edits."""

from __future__ import annotations

from datetime import timedelta

from listener.daemon import Daemon
from listener.dedupe import canonical_url, fingerprint
from listener.domain import Mention, Page, Reply
from listener.store import SyncStore
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector

LONG = "@acme my fibre connection has dropped every evening this week, still broken"


def post(clock, source: str, ext: str, text: str = LONG, minutes_ago: float = 30, **kw) -> Mention:  # type: ignore[no-untyped-def]
    return Mention(source=source, external_id=ext, text=text, author=kw.pop("author", "@ann"),
                   created_at=clock.now() - timedelta(minutes=minutes_ago), brands=("acme",), **kw)


async def run(settings, clock, *connectors, sink=None) -> None:  # type: ignore[no-untyped-def]
    sink = sink or RecordingSink()
    daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={sink.name: sink},
                    connectors={c.name: c for c in connectors})
    await daemon.run_once()


def db(settings) -> SyncStore:  # type: ignore[no-untyped-def]
    return SyncStore(settings.listener.database)


async def test_boosts_and_repolls_add_reach_once_each(make_settings, clock) -> None:
    settings = make_settings()
    original = post(clock, "fedi", "1")
    boost_a = post(clock, "fedi", "1", seen_as="b1")
    boost_b = post(clock, "fedi", "1", seen_as="b2")
    source = ScriptedConnector("fedi", [Page([original, boost_a], "c1"), Page([boost_a, boost_b, original], "c2")])
    await run(settings, clock, source)
    await run(settings, clock, source)
    store = db(settings)
    assert store.counts()["mentions"] == 1
    assert store.db.execute("SELECT reach FROM mentions").fetchone()[0] == 3
    store.close()


async def test_same_post_on_two_sources_is_one_mention_and_one_clock(make_settings, clock) -> None:
    settings = make_settings()
    on_fedi = post(clock, "fedi", "1", url="https://social.example/@ann/1?utm_source=x")
    via_feed = post(clock, "feed", "item-9", text="Ann wrote: fibre dropped", url="https://SOCIAL.example/@ann/1/")
    cross_post = post(clock, "sky", "3kq", minutes_ago=25)  # same words on another platform
    await run(settings, clock, ScriptedConnector("fedi", [Page([on_fedi], "c")]),
              ScriptedConnector("feed", [Page([via_feed], "c")]), ScriptedConnector("sky", [Page([cross_post], "c")]))
    store = db(settings)
    assert store.counts()["mentions"] == 1 and store.counts()["complaints"] == 1
    assert store.db.execute("SELECT reach FROM mentions").fetchone()[0] == 3
    store.close()
    # The brand answers the copy it saw on the other platform: the one clock stops.
    reply = Reply(source="sky", external_id="r", in_reply_to="3kq", author="@acme", created_at=clock.now())
    await run(settings, clock, ScriptedConnector("sky", [Page([], "c2", replies=[reply])]))
    store = db(settings)
    (case,) = store.complaints()
    store.close()
    assert case.mention_key == "fedi:1" and case.state == "replied"


async def test_follow_ups_join_the_first_complaint(make_settings, clock) -> None:
    settings = make_settings()
    first = post(clock, "fedi", "1", "acme my order never arrived", minutes_ago=50)
    again = post(clock, "fedi", "2", "acme STILL nothing, worst service", minutes_ago=20)  # not a reply
    other = post(clock, "fedi", "3", "acme refund never came", minutes_ago=20, author="@bob")
    await run(settings, clock, ScriptedConnector("fedi", [Page([first, again, other], "c")]))
    store = db(settings)
    keys = sorted(c.mention_key for c in store.complaints())
    store.close()
    assert keys == ["fedi:1", "fedi:3"]
    reply = Reply(source="fedi", external_id="r", in_reply_to="2", author="@acme", created_at=clock.now())
    await run(settings, clock, ScriptedConnector("fedi", [Page([], "c2", replies=[reply])]))
    store = db(settings)
    states = {c.mention_key: c.state for c in store.complaints()}
    store.close()
    assert states == {"fedi:1": "replied", "fedi:3": "open"}


async def test_auto_replies_never_stop_a_clock(make_settings, clock) -> None:
    settings = make_settings({"brands": {"acme": {"keywords": ["acme"], "bots": {"fedi": ["@acme_bot"]}}},
                              "connectors": {"fedi": {"type": "jsonl", "path": "unused.jsonl"}}})
    complaint = post(clock, "fedi", "1", "acme charged me twice")
    bot = Reply(source="fedi", external_id="b", in_reply_to="1", author="@ACME_bot", created_at=clock.now())
    human = Reply(source="fedi", external_id="h", in_reply_to="1", author="@acme",
                  created_at=clock.now() + timedelta(minutes=5))
    source = ScriptedConnector("fedi", [Page([complaint], "c", replies=[bot])])
    daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={}, connectors={"fedi": source})
    await daemon.run_once()
    store = db(settings)
    assert store.complaints()[0].state == "open"
    store.close()
    source.pages.append(Page([], "c2", replies=[human]))
    clock.advance(timedelta(minutes=5))
    daemon = Daemon(settings, clock=clock, classifier=KeywordClassifier(), sinks={}, connectors={"fedi": source})
    await daemon.run_once()
    store = db(settings)
    (case,) = store.complaints()
    store.close()
    assert case.state == "replied" and case.closed_by == "reply by @acme"


async def test_review_edited_after_the_reply_reopens_the_clock(make_settings, clock) -> None:
    settings = make_settings()
    sink = RecordingSink()
    review = post(clock, "play", "rev1", "acme app broken after update, 1 star", minutes_ago=120,
                  raw={"rating": 1, "channel": "review"})
    answer = Reply(source="play", external_id="dev1", in_reply_to="rev1", author="@acme",
                   created_at=clock.now() - timedelta(minutes=100))
    source = ScriptedConnector("play", [Page([review], "c1", replies=[answer])])
    await run(settings, clock, source, sink=sink)
    edited = post(clock, "play", "rev1", "acme app STILL broken, the reply did not help", minutes_ago=120,
                  edited_at=clock.now() - timedelta(minutes=70))
    source.pages.append(Page([edited], "c2"))
    await run(settings, clock, source, sink=sink)
    store = db(settings)
    (case,) = store.complaints()
    text = store.get_mentions(["play:rev1"])[0].text
    store.close()
    assert text.startswith("acme app STILL broken")
    assert case.state == "open" and case.opened_at == clock.now() - timedelta(minutes=70)
    assert case.breached_at is not None  # 70 minutes since the edit: a new round, a new breach alert
    assert [e.id for e, _ in sink.events] == ["play:rev1:r1:breach"]


def test_canonical_url_and_fingerprint() -> None:
    assert canonical_url("http://WWW.Example.com/a/b/?utm_source=x&id=3#frag") == "https://example.com/a/b?id=3"
    assert canonical_url("not a url") == "" and canonical_url("ftp://x/y") == ""
    assert fingerprint("short", "@ann") == ""
    same = "  " + LONG.upper().replace("@acme", "@acme.bsky.social") + " https://t.co/x"
    assert fingerprint(LONG, "@ann@social.example") == fingerprint(same, "ann.bsky.social")
    assert fingerprint(LONG, "@ann") != fingerprint(LONG.replace("evening", "morning"), "@ann")
    assert fingerprint(LONG, "@ann") != fingerprint(LONG, "@bob")  # two customers, two mentions
    assert fingerprint(LONG + " #1", "@ann") != fingerprint(LONG + " #2", "@ann")


async def test_same_words_from_different_customers_stay_apart(make_settings, clock) -> None:
    settings = make_settings()
    campaign = "@acme I want my money back for the cancelled concert tickets #refund"
    page = Page([post(clock, "fedi", str(i), campaign, author=f"@fan{i}") for i in range(3)], "c")
    await run(settings, clock, ScriptedConnector("fedi", [page]))
    store = db(settings)
    assert store.counts()["mentions"] == 3 and store.counts()["complaints"] == 3
    store.close()
