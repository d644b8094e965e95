"""Backtest: replay stored mentions through the configured policies in memory (no writes, nothing sent)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from listener.clocks import ClockEngine, StoredDeadline, load_escalations, seconds
from listener.sla.ladder import ClockState, evaluate
from listener.sla.policy import MentionFacts
from listener.store import iso, parse_iso

_CHANNELS = ("public_mention", "review", "direct_message")


@dataclass(slots=True)
class BacktestReport:
    """What the policies and the ladder would have done over a period."""

    clocks: int = 0
    met: int = 0
    missed: int = 0
    unanswered: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    by_policy: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def compliance(self) -> float | None:
        """Share of clocks answered within target, among those decided (answered, or past the deadline)."""
        decided = self.met + self.missed
        return None if decided == 0 else self.met / decided

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        data = dataclasses.asdict(self)
        data["fired"] = dict(self.fired)
        data["by_policy"] = {k: dict(v) for k, v in self.by_policy.items()}
        data["compliance"] = self.compliance
        return data


def _utc(text: str) -> datetime:
    return parse_iso(text)  # type: ignore[return-value]


def backtest(database: Path | str, engine: ClockEngine, start: datetime, end: datetime) -> BacktestReport:
    """Replay complaint mentions created in [start, end) through `engine`'s policies and the ladder.

    The database is opened read-only: the backtest can never change it. Replies count from the
    first stored reply to the mention; the ladder is stepped exactly as the daemon's sweep would.
    """
    uri = f"file:{Path(database).resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        rows = db.execute(
            """SELECT m.key, m.source, m.author, m.text, m.created_at, m.raw, mb.brand, c.complaint,
                      (SELECT MIN(r.created_at) FROM replies r WHERE r.mention_key = m.key),
                      m.author_followers
               FROM mentions m JOIN mention_brands mb ON mb.mention_key = m.key
               JOIN classifications c ON c.mention_key = m.key
               WHERE m.created_at >= ? AND m.created_at < ? ORDER BY m.created_at""",
            [iso(start), iso(end)],
        ).fetchall()
    finally:
        db.close()
    report = BacktestReport()
    seen: set[str] = set()
    for key, source, author, text, created, raw, brand, complaint, replied, followers in rows:
        if key in seen:
            continue  # a mention of several brands gets one clock (the first brand stored)
        seen.add(key)
        data = _raw(raw)
        rating = data.get("rating")
        facts = MentionFacts(
            brand=brand, source=source, channel=data.get("channel") if data.get("channel") in _CHANNELS else "public_mention",
            author=author, followers=followers, text=text or "", is_complaint=bool(complaint),
            rating=rating if isinstance(rating, int) and not isinstance(rating, bool) else None,
        )
        opened = _utc(created)
        deadline = engine.deadline(facts, opened, anchor_key=key)
        if deadline is None:
            continue
        report.clocks += 1
        reply_at = _utc(replied) if replied else None
        if reply_at is not None and reply_at <= deadline.due:
            report.met += 1
        elif reply_at is not None or deadline.due < end:
            report.missed += 1
        if reply_at is None:
            report.unanswered += 1
        fired = _replay(key, opened, deadline, engine, reply_at or end)
        per_policy = report.by_policy.setdefault(deadline.policy, Counter())
        per_policy["clocks"] += 1
        for kind in fired:
            report.fired[kind] += 1
            per_policy[kind] += 1
    return report


def _raw(raw: str | None) -> dict[str, object]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _replay(key: str, opened: datetime, d: StoredDeadline, engine: ClockEngine, until: datetime) -> list[str]:
    """Step the ladder like the sweep does, from the first step to `until` (the reply, or the period's end)."""
    state = ClockState(
        key=key, opened_at=opened, deadline=d.due,
        warn_at=d.warn_at if d.warn_at and d.warn_at < d.due else None,
        escalations=load_escalations(d.escalations), reescalate_after=seconds(d.reescalate_after),
        reescalate_to=tuple(json.loads(d.reescalate_to or "[]")),
    )
    calendar = engine.calendar(d.calendar)
    fired: list[str] = []
    now = state.warn_at or state.deadline
    while now is not None and now < until:
        decision = evaluate(state, now, calendar)
        fired.extend(step.kind.value for step in decision.fire)
        state = dataclasses.replace(
            state, fired=state.fired | {s.id for s in decision.fire} | {s.id for s in decision.skip}
        )
        if decision.next_at is None or decision.next_at <= now:
            break
        now = decision.next_at
    return fired
