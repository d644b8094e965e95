"""A case ends the same whatever order its facts arrive in, and every view of it agrees (CLI, report, API, backtest)."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.base import EventKind
from config.loader import parse_config
from listener.analytics.sla import sla_report
from listener.api.server import build_app
from listener.backtest import backtest
from listener.cli import cli
from listener.clock import FakeClock
from listener.clocks import ClockEngine
from listener.domain import Mention, Page, Reply
from listener.store import SyncStore
from tests.doubles import KeywordClassifier
from tests.test_policy_clocks import LADDER, Harness, mention, sla

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=6)
TEXTS = {
    "complaint": "acme it is still broken",
    "question": "acme does the new plan include roaming?",
    "praise": "thanks acme, love it",
    "neutral": "watching the acme keynote",
}
POLICY = {"name": "d", "first_response": "60m", "next_response": "30m", "warn_after": "45m"}
ENGINE = ClockEngine.from_settings(parse_config({"brands": {"acme": {"keywords": ["acme"]}}, **sla(POLICY)},
                                                env={}).sla)


def _facts(data: st.DataObject) -> list[tuple[str, Any]]:
    """A complaint, its follow-ups, the brand's replies and people's actions, as store operations."""
    root = Mention(source="s", external_id="1", text="acme my order never arrived", author="@ann", created_at=T0,
                   brands=("acme",))
    mentions = [root]
    for i in range(data.draw(st.integers(0, 3), label="follow-ups")):
        kind = data.draw(st.sampled_from(sorted(TEXTS)), label="kind")
        threaded = data.draw(st.booleans(), label="threaded")
        minutes = data.draw(st.integers(1, 200), label="at")
        mentions.append(Mention(source="s", external_id=f"f{i}", text=TEXTS[kind], author="@ann",
                                created_at=T0 + timedelta(minutes=minutes), brands=("acme",),
                                in_reply_to="1" if threaded else None))
    ops: list[tuple[str, Any]] = []
    for m in mentions:
        ops += [("ingest", m), ("classify", m)]
    for i in range(data.draw(st.integers(0, 3), label="replies")):
        target = data.draw(st.sampled_from(mentions), label="answers")
        minutes = data.draw(st.integers(0, 240), label="reply at")
        ops.append(("reply", Reply(source="s", external_id=f"r{i}", in_reply_to=target.external_id,
                                   author="@acme", created_at=T0 + timedelta(minutes=minutes))))
    for i in range(data.draw(st.integers(0, 2), label="actions")):
        action = data.draw(st.sampled_from(["ack", "snooze", "assign", "replied", "not_complaint"]), label="action")
        ops.append(("action", (action, T0 + timedelta(minutes=data.draw(st.integers(0, 240), label="act at")),
                               f"a{i}")))
    return ops


def _apply(store: SyncStore, ops: list[tuple[str, Any]]) -> None:
    classifier = KeywordClassifier()
    for what, item in ops:
        if what == "ingest":
            store.ingest("s", [item], [], None, LATER)
        elif what == "classify":
            store.save_classifications([(item, classifier.predict([item.text])[0])], LATER, lambda e: ["x"])
        elif what == "reply":
            store.record_replies([item], LATER, lambda e: ["x"])
        else:
            action, at, key = item
            store.take_action("s:1", action, "U1", at, lambda e: ["x"], request_key=key)


def _final(store: SyncStore) -> list[tuple[Any, ...]]:
    return store.db.execute(
        """SELECT mention_key, anchor_key, state, round, opened_at, deadline, closed_at, closed_by, reply_key,
                  breached_at IS NOT NULL, response_seconds, acked_at, snoozed_until, assigned_to
           FROM complaints ORDER BY mention_key"""
    ).fetchall()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_cases_final_state_does_not_depend_on_the_order_of_its_facts(data: st.DataObject) -> None:
    ops = _facts(data)
    seed = data.draw(st.integers(0, 2**32 - 1), label="order")
    shuffled = list(ops)
    random.Random(seed).shuffle(shuffled)
    # Keep only what the daemon guarantees: a mention is classified after it is stored.
    stored: set[str] = set()
    ordered: list[tuple[str, Any]] = []
    waiting: list[tuple[str, Any]] = []
    for op in shuffled:
        if op[0] == "classify" and op[1].key not in stored:
            waiting.append(op)
            continue
        ordered.append(op)
        if op[0] == "ingest":
            stored.add(op[1].key)
            ordered += [w for w in waiting if w[1].key == op[1].key]
            waiting = [w for w in waiting if w[1].key != op[1].key]
    finals = []
    for sequence in (ops, ordered):
        store = SyncStore(":memory:")
        store.set_engine(ENGINE)
        _apply(store, sequence)
        finals.append(_final(store))
        store.close()
    assert finals[0] == finals[1], [op[0] + ":" + getattr(op[1], "key", str(op[1])) for op in ordered]


# -- every view agrees -------------------------------------------------------------------------


def _view_of_row(state: str, closed_at: str | None, deadline: str, breached_at: str | None, now: datetime) -> str:
    """The case in one word from a stored row (independent of the case engine's own words)."""
    if state == "not_complaint":
        return "not_complaint"
    if state != "open":
        return "late" if closed_at and closed_at > deadline else "met"
    return "breached" if breached_at else "open"


async def test_complaints_sla_report_api_and_backtest_agree_on_every_case(make_settings, clock) -> None:
    settings_ = make_settings(sla(POLICY))
    h = Harness(settings_, clock)
    start = clock.now()
    people = ["@a", "@b", "@c", "@d", "@e", "@f", "@g"]
    pages = [mention(start, str(i), f"acme my order {i} never arrived", author=who) for i, who in enumerate(people)]
    pages.append(mention(start + timedelta(minutes=20), "f", "acme still broken, did not help", author="@d",
                         in_reply_to="rd"))
    replies = [
        Reply(source="social", external_id=ext, in_reply_to=to, author="@acme", created_at=start + timedelta(minutes=m))
        for ext, to, m in (("ra", "0", 5), ("rb", "1", 90), ("rd", "3", 10))
    ]
    # The daemon was behind: it learns the answers, including a late one, when it catches up.
    await h.at(start + timedelta(hours=2)).run(Page(pages, "c", replies=replies))
    store = h.store()
    route = lambda e: ["rec"]  # noqa: E731
    store.take_action("social:4", "not_complaint", "U1", start + timedelta(minutes=3), route, request_key="n")
    store.take_action("social:5", "replied", "U1", start + timedelta(minutes=30), route, request_key="m")
    store.close()
    now = start + timedelta(hours=3)
    await h.at(now).run()

    db = settings_.listener.database
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT mention_key, state, closed_at, deadline, breached_at FROM complaints").fetchall()
    report = sla_report(conn, now=now)["total"]
    conn.close()
    stored = {r[0]: _view_of_row(r[1], r[2], r[3], r[4], now) for r in rows}
    assert stored == {"social:0": "met", "social:1": "late", "social:2": "breached", "social:3": "breached",
                      "social:4": "not_complaint", "social:5": "met", "social:6": "breached"}

    cli_rows = [json.loads(line) for line in CliRunner().invoke(
        cli, ["complaints", "--format", "json"], env={"LISTENER_DB": str(db)}).output.splitlines()]
    for row in cli_rows:
        assert row["breached"] == (stored[row["mention"]] in ("late", "breached")), row
        assert (row["state"] == "not_complaint") == (stored[row["mention"]] == "not_complaint")
        assert (row["state"] == "open") == (stored[row["mention"]] in ("open", "breached"))

    words = Counter(stored.values())
    assert report["breaches"] == words["late"] + words["breached"]
    assert report["within_target"] == words["met"] and report["not_complaint"] == words["not_complaint"]

    server = TestServer(build_app(db, settings_, clock=FakeClock(now)))
    async with TestClient(server) as client:
        items = (await (await client.get("/api/complaints", params={"limit": "50"})).json())["items"]
    api = {i["mention_key"]: _view_of_row(i["state"], i["closed_at"], i["deadline"], i["breached_at"], now)
           for i in items}
    assert api == stored

    replayed = backtest(Path(db), ClockEngine.from_settings(settings_.sla), start - timedelta(hours=1), now)
    assert replayed.cases == stored


async def test_backtest_replays_a_recorded_live_run_event_for_event(make_settings, clock) -> None:
    settings_ = make_settings(sla(LADDER, {"name": "rest", "first_response": "60m", "next_response": "30m",
                                           "warn_after": "45m"}))
    h = Harness(settings_, clock)
    start = clock.now()
    route = lambda e: ["rec"]  # noqa: E731
    await h.run(Page([mention(start, "1", "acme refund never arrived", author="@ann"),
                      mention(start, "2", "acme the app is broken", author="@bob"),
                      mention(start, "3", "acme never sleeps, what a show", author="@cy"),
                      mention(start, "4", "acme my bill is wrong and broken", author="@dee")], "c"))
    store = h.store()
    store.take_action("social:3", "not_complaint", "U3", start + timedelta(minutes=2), route, request_key="n1")
    store.take_action("social:2", "snooze", "U2", start + timedelta(minutes=40), route, request_key="s1")
    store.close()
    await h.at(start + timedelta(minutes=10)).run(Page([], "c1", replies=[
        Reply(source="social", external_id="r4", in_reply_to="4", author="@acme",
              created_at=start + timedelta(minutes=10))]))
    await h.at(start + timedelta(minutes=25)).run(Page([mention(start + timedelta(minutes=25), "5",
                                                                "acme still broken after your answer", author="@dee",
                                                                in_reply_to="r4")], "c2"))
    for minutes in range(30, 260, 7):
        if minutes == 135:
            store = h.store()
            store.take_action("social:1", "ack", "U1", start + timedelta(minutes=minutes), route, request_key="a1")
            store.take_action("social:2", "replied", "U2", start + timedelta(minutes=minutes), route,
                              request_key="m2")
            store.close()
        await h.at(start + timedelta(minutes=minutes)).run()
    end = start + timedelta(minutes=260)
    live = sorted(e.id for e, _ in h.sink.events
                  if e.kind in (EventKind.WARN, EventKind.BREACH, EventKind.ESCALATE))
    assert any(":reescalate:" in i for i in live) and "social:4:r1:breach" in live  # the run covers it all
    report = backtest(Path(settings_.listener.database), ClockEngine.from_settings(settings_.sla),
                      start - timedelta(hours=1), end)
    assert sorted(report.steps) == live
