"""Unsure judgements end to end: timed and shown in the queue, never alerted until confirmed; backtest agrees."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from alerts.base import EventKind
from listener.analytics.sla import sla_report
from listener.api.server import build_app
from listener.backtest import backtest
from listener.cli import cli
from listener.clock import FakeClock
from listener.clocks import ClockEngine
from listener.domain import Page, Reply
from listener.interact import ClockActions
from listener.store import Store
from tests.test_policy_clocks import Harness, mention, sla

POLICY = {"name": "d", "first_response": "60m", "warn_after": "45m"}
LADDER_KINDS = (EventKind.WARN, EventKind.BREACH, EventKind.ESCALATE)
ROUTE = lambda e: ["rec"]  # noqa: E731


def alerts(h: Harness) -> list[str]:
    """The warn, breach and escalation alerts delivered so far, in order."""
    return [e.id for e, _ in h.sink.events if e.kind in LADDER_KINDS]


def outbox(db: Path | str) -> list[str]:
    """Every warn, breach and escalation event in the outbox."""
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute(
            "SELECT id FROM events WHERE kind IN ('warn', 'breach', 'escalate') ORDER BY seq")]


def steps(db: Path | str, settings: Any, start: datetime, end: datetime) -> tuple[list[str], dict[str, str], int]:
    report = backtest(Path(db), ClockEngine.from_settings(settings.sla), start - timedelta(hours=1), end)
    return sorted(report.steps), report.cases, report.unsure


async def test_an_unsure_complaint_past_its_deadline_alerts_nothing_until_a_person_confirms_it(
        make_settings, clock) -> None:
    settings = make_settings(sla(POLICY))
    db = settings.listener.database
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme my order never arrived"),
                      mention(start, "2", "acme kinda broken today?", author="@bob")], "c"))
    for minutes in (46, 61, 120):
        await h.at(start + timedelta(minutes=minutes)).run()
    # The sure complaint warns and breaches; the unsure one, just as late, is silent.
    assert alerts(h) == ["social:1:warn", "social:1:breach"] == outbox(db)
    store = h.store()
    cases = {c.mention_key: c for c in store.complaints()}
    assert (cases["social:2"].state, cases["social:2"].unsure, cases["social:2"].breached_at) == ("open", True, None)
    assert not cases["social:1"].unsure and cases["social:1"].breached_at is not None
    assert store.db.execute("SELECT unsure FROM classifications WHERE mention_key = 'social:2'").fetchone() == (1,)
    store.close()
    # The backtest of the same period agrees: no step for the unsure case, which it calls "unsure".
    before = steps(db, settings, start, start + timedelta(minutes=120))
    assert before == (["social:1:breach", "social:1:warn"], {"social:1": "breached", "social:2": "unsure"}, 1)
    period = ["--db", str(db), "--from", (start - timedelta(hours=1)).isoformat(),
              "--to", (start + timedelta(minutes=120)).isoformat()]
    text = CliRunner().invoke(cli, ["backtest", *period])
    assert text.exit_code == 0 and "clocks 1: met 0, missed 1" in text.output, text.output
    assert "1 unsure, never alerted" in text.output
    as_json = json.loads(CliRunner().invoke(cli, ["backtest", *period, "--format", "json"]).output)
    assert (as_json["unsure"], as_json["clocks"], as_json["fired"]) == (1, 1, {"warn": 1, "breach": 1})

    store = h.store()
    at = start + timedelta(minutes=125)
    assert store.take_action("social:2", "confirm", "U1", at, ROUTE, request_key="c1") == "done"
    assert store.take_action("social:2", "confirm", "U1", at, ROUTE, request_key="c1") == "duplicate"
    (row,) = store.db.execute("SELECT unsure, deadline, opened_at FROM complaints WHERE mention_key = 'social:2'")
    assert row[0] == 0 and row[2] < row[1] < at.isoformat()  # the deadline still counts from the arrival
    assert store.db.execute("SELECT complaint, \"by\" FROM corrections WHERE mention_key = 'social:2'"
                            ).fetchall() == [(1, "U1")]  # a label for training, as "not a complaint" is
    store.close()
    for minutes in (126, 200):
        await h.at(start + timedelta(minutes=minutes)).run()
    # Confirmed after its deadline: the breach fires once (the warning it skipped is not sent late).
    assert alerts(h) == ["social:1:warn", "social:1:breach", "social:2:breach"] == outbox(db)
    after = steps(db, settings, start, start + timedelta(minutes=200))
    assert after == (sorted(alerts(h)), {"social:1": "breached", "social:2": "breached"}, 0)


async def test_an_unsure_late_answer_is_no_breach_until_confirmed(make_settings, clock) -> None:
    settings = make_settings(sla(POLICY))
    db = settings.listener.database
    h = Harness(settings, clock)
    start = clock.now()
    late = Reply(source="social", external_id="r1", in_reply_to="1", author="@acme",
                 created_at=start + timedelta(minutes=90))
    # The daemon was behind: it learns of the late answer with the complaint.
    await h.at(start + timedelta(hours=2)).run(Page([mention(start, "1", "acme kinda broken")], "c", replies=[late]))
    assert alerts(h) == []
    with sqlite3.connect(db) as conn:
        total = sla_report(conn, now=start + timedelta(hours=2))["total"]
    assert (total["unsure"], total["breaches"], total["complaints"]) == (1, 0, 0)
    store = h.store()
    assert store.take_action("social:1", "confirm", "U1", start + timedelta(hours=3), ROUTE, request_key="c") == "done"
    (case,) = store.complaints()
    store.close()
    assert case.state == "replied" and not case.unsure and case.breached_at is not None
    await h.at(start + timedelta(hours=3, minutes=1)).run()
    assert alerts(h) == ["social:1:breach"] == outbox(db)
    assert steps(db, settings, start, start + timedelta(hours=4)) == (["social:1:breach"], {"social:1": "late"}, 0)


async def test_a_team_can_opt_into_alerting_unsure_complaints(make_settings, clock) -> None:
    settings = make_settings({**sla(POLICY), "sla": {**sla(POLICY)["sla"], "alert_unsure": True}})
    h = Harness(settings, clock)
    start = clock.now()
    await h.run(Page([mention(start, "1", "acme kinda broken")], "c"))
    for minutes in (46, 61):
        await h.at(start + timedelta(minutes=minutes)).run()
    assert alerts(h) == ["social:1:warn", "social:1:breach"]
    assert steps(settings.listener.database, settings, start, start + timedelta(minutes=61)) == (
        ["social:1:breach", "social:1:warn"], {"social:1": "breached"}, 0)


async def test_listener_label_complaint_yes_confirms_an_unsure_clock(make_settings) -> None:
    settings = make_settings()  # the default policy, as the CLI uses without a config file
    db = settings.listener.database
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    h = Harness(settings, FakeClock(start))
    await h.run(Page([mention(start, "1", "acme kinda broken")], "c"))
    await h.at(start + timedelta(hours=2)).run()
    assert alerts(h) == []
    # The command runs its own event loop: off this one, as it would in a shell.
    label = ["label", "social:1", "--complaint", "yes", "--db", str(db)]
    result = await asyncio.to_thread(CliRunner().invoke, cli, label)
    assert result.exit_code == 0, result.output
    await h.at(datetime.now(UTC) + timedelta(minutes=1)).run()
    assert alerts(h) == ["social:1:breach"]


async def test_the_queue_lists_unsure_items_and_confirms_or_rejects_them(make_settings, clock) -> None:
    settings = make_settings(sla(POLICY))
    db = settings.listener.database
    h = Harness(settings, clock)
    start = clock.now()
    hostile = "acme kinda <script>alert(1)</script> nice"
    await h.run(Page([
        mention(start, "1", "acme my order never arrived"),
        mention(start, "2", "acme kinda broken", author="@bob"),  # an unsure complaint: a clock
        mention(start, "3", hostile, author="@cy"),  # unsure, probably not a complaint: no clock
        mention(start, "4", "acme kinda ok I guess", author="@dee"),
        mention(start, "5", "acme is fine", author="@eve"),  # sure and not a complaint: not listed
    ], "c"))
    now = start + timedelta(minutes=30)
    clock.set(now)
    store = await Store(db).open()
    await store.call(lambda s: s.set_engine(ClockEngine.from_settings(settings.sla)))
    app = build_app(db, settings, clock=clock, actions=ClockActions(store, ROUTE, clock.now))
    try:
        async with TestClient(TestServer(app)) as client:
            async def tab(name: str) -> dict[str, Any]:
                return await (await client.get("/api/queue", params={"tab": name, "since": "30d"})).json()

            async def act(key: str, action: str, rid: str) -> str:
                body = {"mention_key": key, "action": action, "request_id": rid, "by": "ann"}
                return (await (await client.post("/api/actions", json=body)).json())["result"]

            unsure = await tab("unsure")
            assert [(i["mention_key"], i["unsure"]) for i in unsure["due"] + unsure["overdue"]] == [("social:2", True)]
            assert [i["mention_key"] for i in unsure["review"]] == ["social:3", "social:4"]
            assert unsure["review"][0]["text"] == hostile  # JSON carries it as data; the page sets textContent
            assert unsure["counts"]["unsure"] == 3 and unsure["totals"]["review"] == 2
            ours = await tab("complaints")
            assert {i["mention_key"]: i["unsure"] for i in ours["due"]} == {"social:1": False, "social:2": True}
            assert ours["review"] == []
            listed = (await (await client.get("/api/complaints", params={"state": "open"})).json())["items"]
            assert {i["mention_key"]: i["unsure"] for i in listed} == {"social:1": False, "social:2": True}

            assert await act("social:1", "confirm", "confirm-sure") == "closed"  # nothing unsure to confirm
            assert await act("social:3", "confirm", "confirm-3x") == "done"  # opens a clock, confirmed
            assert await act("social:4", "not_complaint", "reject-4x") == "done"  # off the review list
            assert await act("social:2", "confirm", "confirm-2x") == "done"
            assert await act("social:2", "confirm", "confirm-2x") == "duplicate"
            unsure = await tab("unsure")
            assert unsure["due"] + unsure["overdue"] + unsure["review"] == [] and unsure["counts"]["unsure"] == 0
            ours = await tab("complaints")
            assert {i["mention_key"]: i["unsure"] for i in ours["due"]} == {
                "social:1": False, "social:2": False, "social:3": False}
            (three,) = [i for i in ours["due"] if i["mention_key"] == "social:3"]
            assert three["deadline"].startswith((start + timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M"))
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT mention_key, complaint FROM corrections ORDER BY id").fetchall() == [
            ("social:3", 1), ("social:4", 0), ("social:2", 1)]
