"""Listening alerts: spikes against a rolling baseline, crisis keywords, VIP and high-reach authors."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.base import Event, EventKind
from config.schema import ListeningSettings
from listener.clock import FakeClock
from listener.daemon import Daemon
from listener.domain import Mention, Page, Sentiment
from listener.listening import ListeningJob, Watch, author_hit, build_watches, crisis_hit
from listener.noise import HourlyCount, SpikeSettings, cooldown_for, find_spikes, judged_hour
from listener.sla.policy import Policy
from listener.store import Store, SyncStore
from models.base import Classification
from tests.doubles import KeywordClassifier, RecordingSink, ScriptedConnector

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday; two days of history follow
BURST = START + timedelta(hours=48)  # the hour after the history
_ids = itertools.count(1)


class Router:
    """Routes every event to a Slack and an MQTT sink, like the daemon with both configured."""

    def __init__(self) -> None:
        self.seen: list[Event] = []

    def __call__(self, event: Event) -> list[str]:
        self.seen.append(event)
        return ["slack", "mqtt"]


def settings(**overrides: object) -> ListeningSettings:
    """Small baselines so the tests need two days of history, not fourteen; no cooldowns unless asked."""
    data: dict[str, object] = {
        "spikes": {"baseline_days": 2, "min_baseline_hours": 24, "min_count": 10},
        "cooldowns": {},
    }
    data.update(overrides)
    return ListeningSettings.model_validate(data)


def add(
    store: SyncStore,
    at: datetime,
    count: int = 1,
    *,
    text: str = "acme note",
    brands: tuple[str, ...] = ("acme",),
    source: str = "social",
    author: str = "",
    followers: int | None = None,
    negative: int = 0,
) -> list[str]:
    """Store `count` classified mentions posted at `at` (the first `negative` of them negative)."""
    mentions = []
    for i in range(count):
        n = next(_ids)
        mentions.append(
            Mention(source=source, external_id=str(n), text=f"{text} {n}", author=author or f"@fan{n}",
                    created_at=at + timedelta(seconds=i), brands=brands, author_followers=followers)
        )
    store.ingest(source, mentions, [], None, at + timedelta(minutes=1))
    results = [
        (m, Classification(model_id="test", scored=True,
                           sentiment=Sentiment.NEGATIVE if i < negative else Sentiment.NEUTRAL,
                           complaint=i < negative, p_complaint=0.9 if i < negative else 0.1, language="en"))
        for i, m in enumerate(mentions)
    ]
    store.save_classifications(results, at + timedelta(minutes=2))
    return [m.key for m in mentions]


def history(store: SyncStore, per_hour: int = 3, negative: int = 0, hours: int = 48, **kwargs: object) -> None:
    """`per_hour` mentions in each of the `hours` hours from START."""
    for h in range(hours):
        add(store, START + timedelta(hours=h, minutes=5), per_hour, negative=negative, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "listener.db"
    yield path


async def open_store(path: Path, competitors: tuple[str, ...] = ()) -> Store:
    store = await Store(path).open()
    await store.call(SyncStore.set_competitors, competitors)
    return store


def events(path: Path) -> list[tuple[str, str, list[str]]]:
    """(event id, kind, sinks) of every queued listening alert."""
    store = SyncStore(path)
    try:
        rows = store.db.execute(
            """SELECT e.id, e.kind, group_concat(d.sink) FROM events e JOIN deliveries d ON d.event_seq = e.seq
               WHERE e.kind IN ('spike', 'crisis', 'vip') GROUP BY e.seq ORDER BY e.seq"""
        ).fetchall()
    finally:
        store.close()
    return [(r[0], r[1], sorted(r[2].split(","))) for r in rows]


# -- pure parts -------------------------------------------------------------------------


def test_judged_hour_is_the_last_complete_settled_hour() -> None:
    settle = timedelta(minutes=15)
    assert judged_hour(datetime(2026, 3, 4, 14, 20, tzinfo=UTC), settle) == datetime(2026, 3, 4, 13, tzinfo=UTC)
    # 14:10: the 13:00 hour has not settled yet (late polls), so 12:00 is still the one judged.
    assert judged_hour(datetime(2026, 3, 4, 14, 10, tzinfo=UTC), settle) == datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert judged_hour(datetime(2026, 3, 4, 14, 0, tzinfo=UTC), timedelta(0)) == datetime(2026, 3, 4, 13, tzinfo=UTC)


def test_baseline_starts_at_the_series_first_hour() -> None:
    hour = BURST
    young = [HourlyCount("acme", "new", hour - timedelta(hours=h), 2, 2, 0) for h in range(1, 6)]
    young.append(HourlyCount("acme", "new", hour, 40, 40, 0))
    # Five hours of history: warming up, even though zero-filled days before would make 40 a spike.
    assert find_spikes(young, hour, SpikeSettings(min_baseline_hours=24)) == []
    old = {("acme", "new"): hour - timedelta(days=30)}  # the store knows the series is old
    (spike,) = find_spikes(young, hour, SpikeSettings(min_baseline_hours=24), old)
    assert spike.rule == "spike.volume" and spike.check.baseline_hours == 14 * 24


def test_watches_reuse_policy_conditions_within_their_scope() -> None:
    policies = [
        Policy(name="vip", brands=["acme"], sources=["mast*"], authors=["@ann@mastodon.social"],
               keywords=["lawsuit"], min_followers=10_000, priority_match="all"),
        Policy(name="default"),
    ]
    watches = build_watches(settings(crisis_keywords=["recall"], vip_authors={"social": ["@ceo"]}), policies)
    assert [w.origin for w in watches] == ["[alerts.listening]", "vip_authors for 'social'", "policy 'vip'"]
    hit = crisis_hit(watches, "acme", "mastodon", "A LAWSUIT is coming")
    assert hit is not None and hit.subject == "acme/lawsuit" and "policy 'vip'" in hit.reason
    assert crisis_hit(watches, "acme", "reddit", "a lawsuit") is None  # outside the policy's sources
    assert crisis_hit(watches, "acme", "reddit", "product recalled") is None  # whole words only
    assert crisis_hit(watches, "globex", "reddit", "#recall now") is not None  # config keywords cover every brand
    vip = author_hit(watches, "acme", "mastodon", "ANN@mastodon.social", None)
    assert vip is not None and vip.reason.startswith("VIP author ANN@mastodon.social")
    assert author_hit(watches, "acme", "social", "ceo", None) is not None
    assert author_hit(watches, "acme", "reddit", "ceo", None) is None
    reach = author_hit(watches, "acme", "mastodon", "@big", 25_000)
    assert reach is not None and "25,000 followers >= 10,000" in reach.reason
    assert author_hit(watches, "acme", "mastodon", "@small", 9_999) is None
    assert build_watches(settings(from_policies=False), policies) == []


def test_cooldown_lookup_prefers_exact_rules() -> None:
    cooldowns = {"spike.*": timedelta(hours=3), "spike.volume": timedelta(hours=1)}
    assert cooldown_for("spike.volume", cooldowns) == timedelta(hours=1)
    assert cooldown_for("spike.negative_share", cooldowns) == timedelta(hours=3)
    assert cooldown_for("crisis", cooldowns) == timedelta(0)


def test_settings_reject_blank_entries() -> None:
    with pytest.raises(ValueError, match="blank"):
        ListeningSettings(crisis_keywords=["  "])
    with pytest.raises(ValueError, match="blank"):
        ListeningSettings.model_validate({"vip_authors": {"social": [""]}})


# -- spikes through the store -------------------------------------------------------------


async def test_volume_spike_fires_once_with_its_numbers_and_survives_a_restart(db: Path) -> None:
    sync = SyncStore(db)
    history(sync)
    add(sync, BURST + timedelta(minutes=10), 30)
    sync.close()
    clock = FakeClock(BURST + timedelta(hours=1, minutes=20))
    store = await open_store(db)
    router = Router()
    try:
        run = await ListeningJob(store, settings(), clock, router).run_once()
        again = await ListeningJob(store, settings(), clock, router).run_once()
    finally:
        await store.close()
    assert run.hour == BURST
    (event,) = run.sent
    assert event.kind is EventKind.SPIKE and event.id == "spike.volume:acme/social:2026-03-04T00"
    assert event.brand == "acme" and event.source == "social" and event.state == "volume spike"
    spike = event.explanation.spike
    assert spike is not None and spike.count == 30 and spike.mean == pytest.approx(3.0)
    assert spike.threshold == pytest.approx(3 + 3 * 3**0.5)  # sigma floored at sqrt(mean)
    assert event.text.startswith("30 mentions on social in 2026-03-04 00:00-01:00 UTC: above the threshold 8.2")
    assert "volume 30 vs mean 3" in event.detail
    assert again.sent == [] and again.duplicates == 1
    # A restart (new store, new job) judges the same hour again and still sends nothing twice.
    store = await open_store(db)
    try:
        third = await ListeningJob(store, settings(), clock, Router()).run_once()
    finally:
        await store.close()
    assert third.sent == [] and third.duplicates == 1
    assert events(db) == [("spike.volume:acme/social:2026-03-04T00", "spike", ["mqtt", "slack"])]


async def test_the_running_hour_waits_until_it_is_over_and_settled(db: Path) -> None:
    sync = SyncStore(db)
    history(sync)
    add(sync, BURST + timedelta(minutes=10), 30)
    sync.close()
    clock = FakeClock(BURST + timedelta(minutes=40))  # the burst hour is still running
    store = await open_store(db)
    try:
        job = ListeningJob(store, settings(), clock, Router())
        early = await job.run_once()
        clock.set(BURST + timedelta(hours=1, minutes=5))  # over, but not settled (15m)
        unsettled = await job.run_once()
        clock.set(BURST + timedelta(hours=1, minutes=15))
        settled = await job.run_once()
    finally:
        await store.close()
    assert early.sent == [] and early.hour == BURST - timedelta(hours=1)
    assert unsettled.sent == [] and unsettled.hour == BURST - timedelta(hours=1)
    assert [e.id for e in settled.sent] == ["spike.volume:acme/social:2026-03-04T00"]


async def test_negative_share_spike_against_the_pooled_baseline(db: Path) -> None:
    sync = SyncStore(db)
    history(sync, per_hour=10, negative=1)
    add(sync, BURST + timedelta(minutes=10), 12, negative=9)
    sync.close()
    store = await open_store(db)
    try:
        run = await ListeningJob(store, settings(), FakeClock(BURST + timedelta(hours=2)), Router()).run_once()
    finally:
        await store.close()
    (event,) = run.sent  # 12 mentions is no volume spike over a baseline of 10 an hour
    assert event.id == "spike.negative_share:acme/social:2026-03-04T00"
    spike = event.explanation.spike
    assert spike is not None and spike.value == pytest.approx(0.75) and spike.mean == pytest.approx(0.1)
    assert event.text.startswith("75% negative of 12 scored mentions on social")


async def test_spike_cooldown_is_kept_in_the_store_and_counted(db: Path) -> None:
    sync = SyncStore(db)
    history(sync)
    for h in (0, 1, 3):
        add(sync, BURST + timedelta(hours=h, minutes=10), 40)
    sync.close()
    config = settings(cooldowns={"spike.*": "3h"})
    clock = FakeClock(BURST + timedelta(hours=1, minutes=30))
    store = await open_store(db)
    try:
        first = await ListeningJob(store, config, clock, Router()).run_once()
        clock.set(BURST + timedelta(hours=2, minutes=30))
        held = await ListeningJob(store, config, clock, Router()).run_once()
        again = await ListeningJob(store, config, clock, Router()).run_once()
    finally:
        await store.close()
    store = await open_store(db)  # the cooldown outlives a restart
    try:
        clock.set(BURST + timedelta(hours=4, minutes=30))
        later = await ListeningJob(store, config, clock, Router()).run_once()
    finally:
        await store.close()
    assert [e.id for e in first.sent] == ["spike.volume:acme/social:2026-03-04T00"]
    assert held.sent == [] and held.held_back == 1
    assert again.held_back == 0 and again.duplicates == 1  # a held-back alert is held back once
    (event,) = later.sent
    assert event.id == "spike.volume:acme/social:2026-03-04T03"
    assert event.explanation.held_back == 1 and "1 more held back by the cooldown" in event.state


async def test_competitors_never_raise_alerts(db: Path) -> None:
    sync = SyncStore(db)
    history(sync, brands=("globex",))
    add(sync, BURST + timedelta(minutes=10), 30, brands=("globex",))
    add(sync, BURST + timedelta(hours=1), text="globex recall", brands=("globex",))
    add(sync, BURST + timedelta(hours=1), text="acme and globex recall", brands=("acme", "globex"))
    sync.close()
    store = await open_store(db, competitors=("globex",))
    try:
        job = ListeningJob(store, settings(crisis_keywords=["recall"]), FakeClock(BURST + timedelta(hours=2)), Router())
        run = await job.run_once()
    finally:
        await store.close()
    assert run.spikes == []
    (event,) = run.sent  # only the mention that also names the own brand, and under that brand
    assert event.kind is EventKind.CRISIS and event.brand == "acme"


# -- crisis keywords and authors ---------------------------------------------------------


async def test_crisis_keyword_fires_once_per_mention_with_the_word(db: Path) -> None:
    now = BURST
    sync = SyncStore(db)
    (hit,) = add(sync, now - timedelta(minutes=30), text="acme RECALL of the kettle")
    add(sync, now - timedelta(minutes=29), text="acme recalled my order")  # not the whole word
    sync.close()
    clock = FakeClock(now)
    config = settings(crisis_keywords=["recall", "data breach"])
    store = await open_store(db)
    try:
        first = await ListeningJob(store, config, clock, Router()).run_once()
        second = await ListeningJob(store, config, clock, Router()).run_once()
        await store.call(SyncStore.ingest, "social", [Mention(
            source="social", external_id="x1", text="acme data  breach? no: acme data breach!", author="@z",
            created_at=now, brands=("acme",))], [], None, now)
        clock.advance(timedelta(minutes=5))
        third = await ListeningJob(store, config, clock, Router()).run_once()
    finally:
        await store.close()
    (event,) = first.sent
    assert event.id == f"crisis:{hit}" and event.kind is EventKind.CRISIS and event.mention_key == hit
    assert event.state == 'crisis keyword "RECALL" ([alerts.listening])'
    assert event.explanation.hit is not None and event.explanation.hit.keyword == "RECALL"
    assert event.subject == "acme/recall"
    assert event.text.startswith("acme RECALL of the kettle") and event.mention_at is not None
    assert second.sent == [] and second.mentions_scanned == 0  # the cursor moved past them
    assert [e.id for e in third.sent] == ["crisis:social:x1"]  # unclassified mentions count too
    assert [k for _, k, _ in events(db)] == ["crisis", "crisis"]


async def test_crisis_cooldown_per_brand_and_keyword(db: Path) -> None:
    now = BURST
    sync = SyncStore(db)
    a = add(sync, now - timedelta(minutes=20), text="acme recall")
    b = add(sync, now - timedelta(minutes=18), text="acme recall again")
    c = add(sync, now - timedelta(minutes=17), text="acme lawsuit")
    d = add(sync, now - timedelta(minutes=5), text="acme recall three")
    sync.close()
    config = settings(crisis_keywords=["recall", "lawsuit"], cooldowns={"crisis": "10m"})
    store = await open_store(db)
    try:
        run = await ListeningJob(store, config, FakeClock(now), Router()).run_once()
    finally:
        await store.close()
    assert [e.mention_key for e in run.sent] == [a[0], c[0], d[0]]
    assert run.held_back == 1 and run.sent[2].explanation.held_back == 1
    assert b[0] not in [e.mention_key for e in run.sent]


async def test_vip_and_high_reach_authors(db: Path) -> None:
    now = BURST
    sync = SyncStore(db)
    (ceo,) = add(sync, now - timedelta(minutes=9), author="@CEO")
    (big,) = add(sync, now - timedelta(minutes=8), author="@big", followers=25_000)
    add(sync, now - timedelta(minutes=7), author="@small", followers=50)
    add(sync, now - timedelta(minutes=6), author="@ceo", source="reddit")  # listed for another source
    sync.close()
    config = settings(vip_authors={"social": ["ceo"]}, min_followers=10_000, cooldowns={"vip": "1h"})
    store = await open_store(db)
    try:
        run = await ListeningJob(store, config, FakeClock(now), Router()).run_once()
    finally:
        await store.close()
    assert [(e.id, e.kind) for e in run.sent] == [(f"vip:{ceo}", EventKind.VIP), (f"vip:{big}", EventKind.VIP)]
    assert run.sent[0].state == "VIP author @CEO (vip_authors for 'social')"
    assert run.sent[1].state == "high reach: 25,000 followers >= 10,000 ([alerts.listening])"
    assert run.sent[1].explanation.hit is not None and run.sent[1].explanation.hit.followers == 25_000


async def test_policy_keywords_raise_alerts_only_within_the_policy(db: Path) -> None:
    now = BURST
    sync = SyncStore(db)
    (acme,) = add(sync, now - timedelta(minutes=9), text="acme lawsuit filed")
    add(sync, now - timedelta(minutes=8), text="initech lawsuit filed", brands=("initech",))
    sync.close()
    policies = [Policy(name="crisis", brands=["acme"], keywords=["lawsuit"])]
    store = await open_store(db)
    try:
        run = await ListeningJob(store, settings(), FakeClock(now), Router(), policies=policies).run_once()
    finally:
        await store.close()
    assert [e.id for e in run.sent] == [f"crisis:{acme}"]
    assert "policy 'crisis'" in run.sent[0].state


async def test_first_run_skips_old_posts_and_batches_resume(db: Path) -> None:
    now = BURST
    sync = SyncStore(db)
    add(sync, now - timedelta(days=3), text="acme recall long ago")
    fresh = add(sync, now - timedelta(hours=2), 5, text="acme recall")
    sync.close()
    config = settings(crisis_keywords=["recall"])
    store = await open_store(db)
    try:
        run = await ListeningJob(store, config, FakeClock(now), Router(), batch=2).run_once()
    finally:
        await store.close()
    assert [e.mention_key for e in run.sent] == fresh and run.mentions_scanned == 5


def test_cursor_follows_its_row_and_starts_afresh_when_the_row_is_gone(db: Path) -> None:
    sync = SyncStore(db)
    try:
        keys = add(sync, BURST, 3)
        assert sync.listening_cursor() is None
        found, cursor = sync.listening_mentions(None, BURST - timedelta(hours=1), limit=10)
        assert [m.key for m in found] == keys and cursor[1] == keys[-1]
        sync.fire_listening_alerts([], lambda _rule: timedelta(0), Router(), cursor=cursor)
        assert sync.listening_cursor() == cursor[0]
        sync.db.execute("DELETE FROM mentions WHERE key = ?", [keys[-1]])
        assert sync.listening_cursor() is None
    finally:
        sync.close()


# -- in the daemon -------------------------------------------------------------------------


async def test_the_daemon_runs_the_job_and_delivers_its_alerts(make_settings) -> None:
    config = make_settings({"alerts": {"listening": {"interval": "1s", "crisis_keywords": ["recall"]}}})
    now = datetime.now(UTC)
    page = Page([Mention(source="social", external_id="r1", text="acme recall announced", author="@a",
                         created_at=now, brands=("acme",))], "c1")
    sink = RecordingSink()
    daemon = Daemon(config, classifier=KeywordClassifier(), sinks={"recording": sink},
                    connectors={"social": ScriptedConnector("social", [page])})
    task = asyncio.create_task(daemon.run(install_signals=False))
    for _ in range(100):
        if sink.events:
            break
        await asyncio.sleep(0.05)
    daemon.stop()
    await task
    assert [(e.kind, e.id) for e, _ in sink.events] == [(EventKind.CRISIS, "crisis:social:r1")]
    assert daemon.scheduler is not None and daemon.listening is not None


def test_watch_scope_globs() -> None:
    watch = Watch("x", brands=("ac*",), sources=("mastodon-*",))
    assert watch.covers("acme", "mastodon-eu") and not watch.covers("acme", "reddit")
    assert not watch.covers("globex", "mastodon-eu")


def test_the_documented_example_is_valid_settings() -> None:
    import re
    import tomllib

    text = (Path(__file__).resolve().parents[1] / "docs" / "sla.md").read_text(encoding="utf-8")
    tables = [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", text, flags=re.S)]
    listening = [t["alerts"]["listening"] for t in tables if "listening" in t.get("alerts", {})]
    (documented,) = [table for table in listening if set(table) != {"spikes"}]  # not the detector's section
    parsed = ListeningSettings.model_validate(documented)
    assert parsed.cooldowns == ListeningSettings().cooldowns  # the doc shows the defaults
    assert parsed.spikes == SpikeSettings()
