"""Burst-mode runs of the whole pipeline with a scripted source, the keyword double and a fake clock."""

from __future__ import annotations

from datetime import timedelta

from listener.daemon import Daemon
from listener.domain import Mention, Page, Reply
from listener.errors import SinkError, TransientSourceError
from listener.store import SyncStore
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector


def mention(clock, ext: str, text: str, minutes_ago: float = 0, **kw) -> Mention:  # type: ignore[no-untyped-def]
    return Mention(
        source="social",
        external_id=ext,
        text=text,
        author=kw.pop("author", "@cust"),
        created_at=clock.now() - timedelta(minutes=minutes_ago),
        brands=("acme",),
        **kw,
    )


async def run(settings, clock, connector, sink, classifier=None):  # type: ignore[no-untyped-def]
    daemon = Daemon(
        settings,
        clock=clock,
        classifier=classifier or KeywordClassifier(),
        sinks={sink.name: sink},
        connectors={"social": connector},
    )
    return await daemon.run_once()


async def test_complaint_warns_breaches_and_is_updated_when_answered(make_settings, clock) -> None:
    settings = make_settings()
    sink = RecordingSink("slack")
    source = ScriptedConnector(
        "social",
        [
            Page(
                [
                    mention(clock, "1", "@acme my router is broken again, worst service"),
                    mention(clock, "2", "love the new acme app, thanks"),
                    mention(clock, "3", "does acme ship to Canada?"),
                ],
                "c1",
            )
        ],
    )
    summary = await run(settings, clock, source, sink)
    assert (summary.new_mentions, summary.classified, summary.complaints) == (3, 3, 1)
    assert sink.events == []

    clock.advance(timedelta(minutes=46))
    await run(settings, clock, source, sink)
    assert sink.kinds_sent == ["warn"]

    clock.advance(timedelta(minutes=15))
    await run(settings, clock, source, sink)
    assert sink.kinds_sent == ["warn", "breach"]
    breach, previous = sink.events[1]
    assert breach.mention_key == "social:1" and previous == "ref-1"  # same thread: update in place
    assert breach.deadline == breach.mention_at + timedelta(minutes=60)

    clock.advance(timedelta(minutes=5))
    reply = Reply(source="social", external_id="r1", in_reply_to="1", author="@acme", created_at=clock.now())
    source.pages.append(Page([], "c2", replies=[reply]))
    await run(settings, clock, source, sink)
    assert sink.kinds_sent == ["warn", "breach", "replied"]
    replied, previous = sink.events[2]
    assert previous == "ref-2"
    assert replied.response_seconds == 66 * 60

    # Nothing is ever sent twice, and the praise and the question never alerted.
    await run(settings, clock, source, sink)
    assert len(sink.events) == 3
    assert {e.mention_key for e, _ in sink.events} == {"social:1"}


async def test_polling_twice_never_duplicates_and_cursor_is_resumed(make_settings, clock) -> None:
    settings = make_settings()
    m = mention(clock, "1", "acme is down again")
    source = ScriptedConnector("social", [Page([m], "c1"), Page([m], "c2")])
    sink = RecordingSink()
    first = await run(settings, clock, source, sink)
    second = await run(settings, clock, source, sink)
    assert (first.new_mentions, second.new_mentions) == (1, 0)
    assert source.cursors == [None, "c1"]
    store = SyncStore(settings.listener.database)
    assert store.counts()["mentions"] == 1 and store.get_cursor("social") == "c2"
    store.close()


async def test_unclassified_mentions_are_requeued_at_start(make_settings, clock) -> None:
    settings = make_settings()
    store = SyncStore(settings.listener.database)
    store.ingest("social", [mention(clock, "9", "acme charged me twice")], [], "c0", clock.now())
    store.close()
    classifier = KeywordClassifier()
    summary = await run(settings, clock, ScriptedConnector("social"), RecordingSink(), classifier)
    assert summary.classified == 1 and summary.complaints == 1
    assert classifier.calls == [["acme charged me twice"]]


async def test_dead_sink_delays_alerts_but_never_loses_them(make_settings, clock) -> None:
    settings = make_settings()
    sink = RecordingSink("slack")
    source = ScriptedConnector(
        "social",
        [Page([mention(clock, str(i), f"acme broken #{i}", minutes_ago=70 + i, author=f"@c{i}") for i in range(3)],
               "c1")],
    )
    sink.fail_with = SinkError("HTTP 500", retry_after=30)
    summary = await run(settings, clock, source, sink)
    assert summary.alerts_queued == 3 and sink.events == []
    assert summary.outbox["pending"] == 3

    clock.advance(timedelta(seconds=10))  # before Retry-After: nothing is attempted
    sink.fail_with = None
    await run(settings, clock, source, sink)
    assert sink.events == []

    clock.advance(timedelta(seconds=30))
    await run(settings, clock, source, sink)
    assert sink.kinds_sent == ["breach", "breach", "breach"]
    # oldest complaint first: the order in which they were raised
    assert [e.mention_key for e, _ in sink.events] == ["social:2", "social:1", "social:0"]


async def test_failing_source_is_recorded_and_does_not_stop_the_run(make_settings, clock) -> None:
    settings = make_settings()
    source = ScriptedConnector("social", [TransientSourceError("HTTP 503", retry_after=42)])
    summary = await run(settings, clock, source, RecordingSink())
    assert summary.poll_failures == 1
    store = SyncStore(settings.listener.database)
    (health,) = store.health()
    store.close()
    assert health["state"] == "down" and health["consecutive_failures"] == 1
    assert "HTTP 503" in health["last_error"]


async def test_reply_seen_before_classification_closes_the_clock_at_once(make_settings, clock) -> None:
    settings = make_settings()
    sink = RecordingSink()
    complaint = mention(clock, "5", "acme refund never arrived", minutes_ago=90)
    reply = Reply(source="social", external_id="r5", in_reply_to="5", author="@acme",
                  created_at=clock.now() - timedelta(minutes=80))
    source = ScriptedConnector("social", [Page([complaint], "c1", replies=[reply])])
    await run(settings, clock, source, sink)
    store = SyncStore(settings.listener.database)
    (c,) = store.complaints()
    store.close()
    assert c.state == "replied" and c.response_seconds == 600
    assert sink.events == []  # answered within target: nothing to alert


async def test_follow_up_joins_the_first_complaint(make_settings, clock) -> None:
    settings = make_settings()
    first = mention(clock, "1", "acme my order is still missing", minutes_ago=30)
    follow = mention(clock, "2", "acme still nothing, worst", minutes_ago=10, in_reply_to="1")
    source = ScriptedConnector("social", [Page([first, follow], "c1")])
    summary = await run(settings, clock, source, RecordingSink())
    assert summary.complaints == 1
    reply = Reply(source="social", external_id="r", in_reply_to="2", author="@acme", created_at=clock.now())
    source.pages.append(Page([], "c2", replies=[reply]))
    await run(settings, clock, source, RecordingSink())
    store = SyncStore(settings.listener.database)
    (c,) = store.complaints()
    store.close()
    assert c.mention_key == "social:1" and c.state == "replied"


async def test_competitor_complaints_get_clocks_but_never_alerts(make_settings, clock) -> None:
    settings = make_settings({"brands": {"acme": {"keywords": ["acme"]},
                                         "globex": {"keywords": ["globex"], "competitor": True}}})
    sink = RecordingSink()
    theirs = Mention(source="social", external_id="g", text="globex broken again", author="@x",
                     created_at=clock.now() - timedelta(minutes=90), brands=("globex",))
    both = Mention(source="social", external_id="b", text="acme and globex both broken", author="@y",
                   created_at=clock.now() - timedelta(minutes=90), brands=("acme", "globex"))
    await run(settings, clock, ScriptedConnector("social", [Page([theirs, both], "c")]), sink)
    store = SyncStore(settings.listener.database)
    brands = {c.mention_key: (c.brand, c.breached_at is not None) for c in store.complaints()}
    store.close()
    assert brands == {"social:g": ("globex", True), "social:b": ("acme", True)}
    assert [e.mention_key for e, _ in sink.events] == ["social:b"]
