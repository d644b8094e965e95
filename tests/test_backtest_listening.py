"""`listener backtest` replays the listening rules: spikes per settled hour, crisis and VIP mentions, cooldowns."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.schema import ListeningSettings
from listener.backtest import DISABLED, NOT_REQUESTED, REPLAYED, BacktestReport, backtest
from listener.cli.sla import backtest_command
from listener.clock import FakeClock
from listener.clocks import ClockEngine
from listener.domain import Mention
from listener.listening import ListeningJob
from listener.sla import default_policy
from listener.sla.policy import Policy
from listener.store import SyncStore
from tests.test_listening import BURST, START, Router, add, history, open_store, settings

SETTLE = timedelta(minutes=15)  # ListeningSettings' default
ENGINE = ClockEngine([default_policy(timedelta(minutes=10), timedelta(minutes=5))], {})


def _files(folder: Path) -> dict[str, str]:
    """Digest of every database file in `folder`, and of its write-ahead log if that holds anything.

    A read-only SQLite connection to a WAL database may leave an empty -wal and an -shm index
    behind (SQLite's own, not data); anything written would show in the database or the log.
    """
    found = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".db" or (path.name.endswith("-wal") and path.stat().st_size > 0):
            found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _run(db: Path, config: ListeningSettings | None, start: datetime, end: datetime, **kw: object) -> BacktestReport:
    return backtest(db, ENGINE, start, end, listening=config, **kw)  # type: ignore[arg-type]


def _fired(report: BacktestReport) -> dict[str, dict[str, int]]:
    return {rule: dict(counts) for rule, counts in report.listening.items() if counts["fired"] or counts["held_back"]}


def _spike_db(db: Path) -> None:
    """Two quiet days of 3 mentions an hour from START, then 30 mentions in the BURST hour."""
    sync = SyncStore(db)
    try:
        history(sync)
        add(sync, BURST + timedelta(minutes=10), 30)
    finally:
        sync.close()


# -- spikes --------------------------------------------------------------------------------


def test_finds_exactly_the_spike_hour_and_not_the_quiet_hours(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    _spike_db(db)
    before = _files(tmp_path)
    # The whole history plus the burst: the baseline hours are judged too, and stay quiet.
    report = _run(db, settings(), START, BURST + timedelta(hours=3))
    assert report.listening_status == REPLAYED
    assert report.hours_judged == 48 + 3
    (example,) = report.spike_examples
    assert (example.hour, example.brand, example.source, example.metric) == (BURST, "acme", "social", "volume")
    assert example.count == 30 and example.threshold == pytest.approx(3 + 3 * 3**0.5)  # as the live job's event says
    assert not example.held_back
    assert _fired(report) == {"spike.volume": {"fired": 1, "held_back": 0}}
    assert [(a.rule, a.subject, a.event_id) for a in report.listening_alerts] == [
        ("spike.volume", "acme/social", "spike.volume:acme/social:2026-03-04T00")
    ]
    assert _files(tmp_path) == before  # read-only: not a byte changed, no file added


def test_only_hours_wholly_inside_the_period_and_settled_by_now_are_judged(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    _spike_db(db)
    config = settings()
    # The burst hour began before the period: not judged.
    late = _run(db, config, BURST + timedelta(minutes=30), BURST + timedelta(hours=3))
    assert late.hours_judged == 2 and late.spike_examples == []
    # The burst hour ends after the period: not judged either.
    early = _run(db, config, BURST - timedelta(hours=2), BURST + timedelta(minutes=59))
    assert early.hours_judged == 2 and early.spike_examples == []
    # Over but not settled at `now`: the daemon has not judged it yet, so neither does the backtest.
    unsettled = _run(db, config, BURST, BURST + timedelta(days=1), now=BURST + timedelta(hours=1, minutes=5))
    assert unsettled.hours_judged == 0 and unsettled.spike_examples == []
    settled = _run(db, config, BURST, BURST + timedelta(days=1), now=BURST + timedelta(hours=1) + SETTLE)
    assert settled.hours_judged == 1 and [e.hour for e in settled.spike_examples] == [BURST]


def test_a_young_series_warms_up_as_in_the_daemon(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    sync = SyncStore(db)
    try:
        history(sync, hours=6)  # six hours of history: under min_baseline_hours (24)
        add(sync, START + timedelta(hours=6, minutes=10), 30)
    finally:
        sync.close()
    report = _run(db, settings(), START, START + timedelta(hours=8))
    assert report.hours_judged == 8 and report.spike_examples == []


def test_spike_cooldown_holds_back_repeats(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    sync = SyncStore(db)
    try:
        history(sync)
        for h in (0, 1, 3):
            add(sync, BURST + timedelta(hours=h, minutes=10), 40)
    finally:
        sync.close()
    report = _run(db, settings(cooldowns={"spike.*": "3h"}), BURST, BURST + timedelta(hours=5))
    assert _fired(report) == {"spike.volume": {"fired": 2, "held_back": 1}}
    assert [(e.hour - BURST, e.held_back) for e in report.spike_examples] == [
        (timedelta(0), False), (timedelta(hours=1), True), (timedelta(hours=3), False)
    ]
    capped = _run(db, settings(cooldowns={"spike.*": "3h"}), BURST, BURST + timedelta(hours=5), examples=2)
    assert len(capped.spike_examples) == 2 and capped.listening == report.listening


def test_negative_share_spike(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    sync = SyncStore(db)
    try:
        history(sync, per_hour=10, negative=1)
        add(sync, BURST + timedelta(minutes=10), 12, negative=9)
    finally:
        sync.close()
    report = _run(db, settings(), START, BURST + timedelta(hours=1))
    (example,) = report.spike_examples
    assert example.metric == "negative_share" and example.value == 0.75 and example.count == 12
    assert _fired(report) == {"spike.negative_share": {"fired": 1, "held_back": 0}}


# -- crisis keywords and authors ------------------------------------------------------------


def test_crisis_and_vip_hits_with_cooldowns(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    at = BURST + timedelta(hours=2)
    sync = SyncStore(db)
    try:
        (a,) = add(sync, at, text="acme recall")
        (b,) = add(sync, at + timedelta(minutes=2), text="acme recall again")  # within crisis' 10m
        (c,) = add(sync, at + timedelta(minutes=3), text="acme lawsuit")  # another subject: acme/lawsuit
        (d,) = add(sync, at + timedelta(minutes=15), text="acme recall three")
        add(sync, at + timedelta(minutes=4), text="acme recalled")  # not the whole word
        (ceo,) = add(sync, at + timedelta(minutes=5), author="@CEO")
        (ceo2,) = add(sync, at + timedelta(minutes=40), author="@ceo")  # within vip's 1h
        (big,) = add(sync, at + timedelta(minutes=6), author="@big", followers=25_000)
        add(sync, at + timedelta(minutes=7), author="@small", followers=50)
        add(sync, at + timedelta(minutes=8), author="@ceo", source="reddit")  # VIP on another source only
        add(sync, at + timedelta(minutes=9), text="globex recall", brands=("globex",))  # a competitor only
        # Posted three days before it was stored (a backfill): older than max_age, no alert.
        old = at - timedelta(days=3)
        sync.ingest("social", [Mention(source="social", external_id="old1", text="acme recall of old", author="@x",
                                       created_at=old, brands=("acme",))], [], None, at)
    finally:
        sync.close()
    config = settings(crisis_keywords=["recall", "lawsuit"], vip_authors={"social": ["ceo"]}, min_followers=10_000,
                      cooldowns={"crisis": "10m", "vip": "1h"})
    report = _run(db, config, at - timedelta(days=4), at + timedelta(hours=1), competitors=("globex",))
    assert _fired(report) == {"crisis": {"fired": 3, "held_back": 1}, "vip": {"fired": 2, "held_back": 1}}
    decided = {(a.event_id, a.held_back) for a in report.listening_alerts}
    assert decided == {
        (f"crisis:{a}", False), (f"crisis:{b}", True), (f"crisis:{c}", False), (f"crisis:{d}", False),
        (f"vip:{ceo}", False), (f"vip:{ceo2}", True), (f"vip:{big}", False),
    }
    assert report.too_old == 1 and report.mentions_checked == 12
    # Without cooldowns every hit fires.
    free = _run(db, config.model_copy(update={"cooldowns": {}}), at - timedelta(days=4), at + timedelta(hours=1),
                competitors=("globex",))
    assert _fired(free) == {"crisis": {"fired": 4, "held_back": 0}, "vip": {"fired": 3, "held_back": 0}}
    # The competitor is an own brand when not declared one.
    assert _fired(_run(db, config, at, at + timedelta(hours=1)))["crisis"] == {"fired": 4, "held_back": 1}


def test_policy_conditions_are_watched_within_the_policy(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    sync = SyncStore(db)
    try:
        (acme,) = add(sync, BURST, text="acme lawsuit filed")
        add(sync, BURST + timedelta(minutes=1), text="initech lawsuit filed", brands=("initech",))
    finally:
        sync.close()
    policies = [Policy(name="crisis", brands=["acme"], keywords=["lawsuit"])]
    report = _run(db, settings(), BURST, BURST + timedelta(hours=1), policies=policies)
    assert [a.event_id for a in report.listening_alerts] == [f"crisis:{acme}"]
    assert _run(db, settings(from_policies=False), BURST, BURST + timedelta(hours=1),
                policies=policies).listening_alerts == []


def test_disabled_or_not_requested_skips_the_listening_rules(tmp_path: Path) -> None:
    db = tmp_path / "listener.db"
    _spike_db(db)
    off = _run(db, settings(enabled=False, crisis_keywords=["note"]), START, BURST + timedelta(hours=3))
    assert off.listening_status == DISABLED and off.listening == {} and off.listening_alerts == []
    assert off.hours_judged == 0 and off.to_dict()["listening_status"] == DISABLED
    plain = backtest(db, ENGINE, START, BURST + timedelta(hours=3))  # the old call: SLA clocks only
    assert plain.listening_status == NOT_REQUESTED and plain.listening == {}


# -- the command ----------------------------------------------------------------------------


def _config(tmp_path: Path, db: Path, listening: str) -> Path:
    path = tmp_path / "listener.toml"
    path.write_text(f'[listener]\ndatabase = "{db}"\n\n[brands.acme]\nkeywords = ["acme"]\n\n'
                    f'[brands.globex]\nkeywords = ["globex"]\ncompetitor = true\n\n'
                    f"[alerts.listening]\n{listening}\n"
                    "[alerts.listening.spikes]\nbaseline_days = 2\nmin_baseline_hours = 24\nmin_count = 10\n\n"
                    '[alerts.listening.cooldowns]\n"spike.*" = "3h"\n')
    return path


def test_command_prints_the_listening_table_and_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = data_dir / "listener.db"
    sync = SyncStore(db)
    try:
        history(sync)
        add(sync, BURST + timedelta(minutes=10), 30)
        add(sync, BURST + timedelta(hours=1, minutes=10), 40)
        add(sync, BURST + timedelta(hours=2, minutes=20), text="acme recall")  # after the spikes' hours
        add(sync, BURST + timedelta(hours=2, minutes=21), text="globex recall", brands=("globex",))
    finally:
        sync.close()
    before = _files(data_dir)
    config = _config(tmp_path, db, 'crisis_keywords = ["recall"]')
    args = ["--config", str(config), "--from", "2026-03-02", "--to", "2026-03-05"]
    clock = {"clock": FakeClock(BURST + timedelta(hours=3))}
    runner = CliRunner()
    table = runner.invoke(backtest_command, args, obj=clock)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    # Hours up to 01:00 are over and settled at 03:00 (02:00 still settling): 48 + 2.
    assert "listening rules: 50 settled hours judged, 216 mentions checked" in lines
    assert "  spike.volume: would fire 1, held back by cooldown 1" in lines
    assert "  spike.negative_share: would fire 0, held back by cooldown 0" in lines
    assert "  crisis: would fire 1, held back by cooldown 0" in lines  # globex is a competitor
    assert "    2026-03-04 00:00 acme/social volume: 30 mentions > threshold 8.2" in lines
    assert any(line.startswith("    2026-03-04 01:00 acme/social volume: 40 mentions") and line.endswith(
        "(held back)") for line in lines)
    result = runner.invoke(backtest_command, [*args, "--format", "json"], obj=clock)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["listening_status"] == "replayed" and data["hours_judged"] == 50
    assert data["listening"]["spike.volume"] == {"fired": 1, "held_back": 1}
    assert data["listening"]["vip"] == {"fired": 0, "held_back": 0}
    assert [(e["hour"], e["count"], e["held_back"]) for e in data["spike_examples"]] == [
        ("2026-03-04T00:00:00+00:00", 30, False), ("2026-03-04T01:00:00+00:00", 40, True)
    ]
    assert data["clocks"] == 0 and "fired" in data
    off = runner.invoke(backtest_command, ["--config", str(_config(tmp_path, db, "enabled = false")), *args[2:]],
                        obj=clock)
    assert off.exit_code == 0, off.output
    assert "listening rules: skipped: [alerts.listening] enabled = false" in off.output.splitlines()
    assert _files(data_dir) == before  # nothing written by any of the runs


# -- the live job agrees --------------------------------------------------------------------


async def test_backtest_and_the_live_job_agree(tmp_path: Path) -> None:
    """Stored hour by hour and judged by the job as the daemon would; the backtest sees the same alerts."""
    db = tmp_path / "listener.db"
    sync = SyncStore(db)
    try:
        history(sync)
    finally:
        sync.close()
    config = settings(crisis_keywords=["recall"], vip_authors={"social": ["ceo"]}, min_followers=10_000,
                      cooldowns={"spike.*": "3h", "crisis": "10m", "vip": "1h"})
    policies = [Policy(name="legal", brands=["acme"], keywords=["lawsuit"])]
    # Per hour after the history: (minutes past, count, text, author, followers, brands).
    plan: dict[int, list[tuple[int, int, str, str, int | None, tuple[str, ...]]]] = {
        0: [(10, 30, "acme note", "", None, ("acme",)), (20, 1, "acme recall", "", None, ("acme",)),
            (25, 1, "acme recall again", "", None, ("acme",)), (30, 1, "hi", "@ceo", None, ("acme",))],
        1: [(10, 40, "acme note", "", None, ("acme",)), (5, 1, "hi", "@CEO", None, ("acme",)),
            (50, 1, "acme lawsuit", "", None, ("acme",)), (55, 12, "globex note", "", None, ("globex",))],
        2: [(15, 3, "acme note", "", None, ("acme",)), (20, 1, "big", "@big", 50_000, ("acme",)),
            (40, 1, "globex recall", "", None, ("globex",))],
        3: [(10, 40, "acme note", "", None, ("acme",)), (12, 1, "acme recall", "", None, ("acme",))],
        4: [(10, 3, "acme note", "", None, ("acme",))],
    }
    store = await open_store(db, competitors=("globex",))
    clock = FakeClock(BURST)
    try:
        job = ListeningJob(store, config, clock, Router(), policies=policies)
        for hour, rows in plan.items():
            at = BURST + timedelta(hours=hour)
            for minutes, count, text, author, followers, brands in rows:
                sync = SyncStore(db)
                try:
                    add(sync, at + timedelta(minutes=minutes), count, text=text, author=author,
                        followers=followers, brands=brands)
                finally:
                    sync.close()
            clock.set(at + timedelta(hours=1) + SETTLE)  # the hour is over and settled: the job judges it
            await job.run_once()
    finally:
        await store.close()
    live = SyncStore(db)
    try:
        sent = {r[0] for r in live.db.execute("SELECT id FROM events WHERE kind IN ('spike', 'crisis', 'vip')")}
        held = {r[0] for r in live.db.execute("SELECT event_id FROM alert_skips")}
    finally:
        live.close()
    before = _files(tmp_path)
    report = _run(db, config, BURST, BURST + timedelta(hours=len(plan)), policies=policies,
                  competitors=("globex",), now=clock.now())
    assert {a.event_id for a in report.listening_alerts if not a.held_back} == sent
    assert {a.event_id for a in report.listening_alerts if a.held_back} == held
    # The scenario exercises every rule, fired and held back.
    assert _fired(report) == {
        "spike.volume": {"fired": 2, "held_back": 1},
        "crisis": {"fired": 3, "held_back": 1},
        "vip": {"fired": 2, "held_back": 1},
    }
    assert _files(tmp_path) == before
