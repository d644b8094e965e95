"""Backtest: replay stored mentions through the policies, the ladder and the listening rules in memory.

Nothing is written and nothing is sent: the database is opened read-only.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from config.schema import ListeningSettings
from listener.clocks import ClockEngine, StoredDeadline, load_escalations, seconds
from listener.domain import require_utc
from listener.listening import (
    CRISIS,
    HOUR,
    VIP,
    build_watches,
    cooldown_for,
    find_spikes,
    judged_hour,
    mention_alerts,
    spike_event,
)
from listener.sla.ladder import ClockState, evaluate
from listener.sla.policy import MentionFacts, Policy
from listener.store import (
    LISTENED_MENTIONS_SQL,
    HourlyCount,
    RuleAlert,
    iso,
    listened_mention,
    parse_iso,
    read_hourly_brand_counts,
    read_series_first_hours,
)

_CHANNELS = ("public_mention", "review", "direct_message")
SPIKE_RULES = ("spike.volume", "spike.negative_share")
LISTENING_RULES = (*SPIKE_RULES, CRISIS, VIP)
# Why the listening rules were not replayed (BacktestReport.listening_status).
REPLAYED = "replayed"
NOT_REQUESTED = "not requested"
DISABLED = "skipped: [alerts.listening] enabled = false"


@dataclass(frozen=True, slots=True)
class ReplayedAlert:
    """One listening alert the daemon would have raised, and whether its cooldown held it back."""

    rule: str
    subject: str
    at: datetime
    event_id: str
    held_back: bool


@dataclass(frozen=True, slots=True)
class SpikeExample:
    """A spike the backtest found: the hour, the series, and the numbers that made it one."""

    hour: datetime
    brand: str
    source: str
    metric: str
    count: int
    value: float
    threshold: float
    baseline_hours: int
    held_back: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping (ISO-8601 hour)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["hour"] = self.hour.isoformat()
        return data


@dataclass(slots=True)
class BacktestReport:
    """What the policies, the ladder and the listening rules would have done over a period."""

    clocks: int = 0
    met: int = 0
    missed: int = 0
    unanswered: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    by_policy: dict[str, Counter[str]] = field(default_factory=dict)
    listening_status: str = NOT_REQUESTED
    hours_judged: int = 0
    mentions_checked: int = 0
    too_old: int = 0  # mentions that would have alerted but were stored later than `max_age` (backfills)
    listening: dict[str, Counter[str]] = field(default_factory=dict)
    spike_examples: list[SpikeExample] = field(default_factory=list)
    # Every replayed listening alert (for comparisons and tests); not part of `to_dict`, it can be long.
    listening_alerts: list[ReplayedAlert] = field(default_factory=list, repr=False)

    @property
    def compliance(self) -> float | None:
        """Share of clocks answered within target, among those decided (answered, or past the deadline)."""
        decided = self.met + self.missed
        return None if decided == 0 else self.met / decided

    def to_dict(self) -> dict[str, object]:
        """JSON-ready mapping."""
        # Built by hand: dataclasses.asdict rebuilds a Counter from (key, value) pairs, which miscounts.
        return {
            "clocks": self.clocks,
            "met": self.met,
            "missed": self.missed,
            "unanswered": self.unanswered,
            "fired": dict(self.fired),
            "by_policy": {k: dict(v) for k, v in self.by_policy.items()},
            "compliance": self.compliance,
            "listening_status": self.listening_status,
            "hours_judged": self.hours_judged,
            "mentions_checked": self.mentions_checked,
            "too_old": self.too_old,
            "listening": {k: dict(v) for k, v in self.listening.items()},
            "spike_examples": [e.to_dict() for e in self.spike_examples],
        }


def _utc(text: str) -> datetime:
    return parse_iso(text)  # type: ignore[return-value]


def backtest(
    database: Path | str,
    engine: ClockEngine,
    start: datetime,
    end: datetime,
    *,
    listening: ListeningSettings | None = None,
    policies: Sequence[Policy] = (),
    competitors: Iterable[str] = (),
    now: datetime | None = None,
    examples: int = 10,
) -> BacktestReport:
    """Replay mentions created in [start, end) through `engine`'s policies and the ladder, and (given
    `listening`) the settled hours and mentions of the period through the listening rules.

    The database is opened read-only: the backtest can never change it. Replies count from the
    first stored reply to the mention; the ladder is stepped exactly as the daemon's sweep would.
    `policies` feed the listening watches (`from_policies`), `competitors` never alert, and `now`
    (if given) keeps hours the daemon could not have judged yet out of the spike replay.
    """
    start, end = require_utc(start, "start"), require_utc(end, "end")
    uri = f"file:{Path(database).resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    report = BacktestReport()
    try:
        _replay_clocks(db, engine, start, end, report)
        if listening is not None:
            if listening.enabled:
                _replay_listening(db, listening, policies, frozenset(competitors), start, end, now, examples, report)
            else:
                report.listening_status = DISABLED
    finally:
        db.close()
    return report


def _replay_clocks(db: sqlite3.Connection, engine: ClockEngine, start: datetime, end: datetime,
                   report: BacktestReport) -> None:
    """The SLA part: a clock per complaint mention, its outcome and the ladder steps it would fire."""
    rows = db.execute(
        """SELECT m.key, m.source, m.author, m.text, m.created_at, m.raw, mb.brand, c.complaint,
                  (SELECT MIN(r.created_at) FROM replies r WHERE r.mention_key = m.key),
                  m.author_followers
           FROM mentions m JOIN mention_brands mb ON mb.mention_key = m.key
           JOIN classifications c ON c.mention_key = m.key
           WHERE m.created_at >= ? AND m.created_at < ? ORDER BY m.created_at""",
        [iso(start), iso(end)],
    ).fetchall()
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


# -- listening rules ----------------------------------------------------------------------


class _Cooldowns:
    """In-memory twin of the store's `alert_cooldowns` (see `SyncStore.fire_listening_alerts`).

    Per rule and subject it keeps the latest time an alert fired; an alert closer to it than the
    rule's cooldown (either side: alerts may come out of order) is held back and starts nothing.
    It assumes a sink takes every listening alert: an unrouted one would start no cooldown live.
    """

    def __init__(self, cooldowns: dict[str, timedelta]) -> None:
        self.cooldowns = cooldowns
        self.waits: dict[str, timedelta] = {}
        self.last: dict[tuple[str, str], datetime] = {}

    def admit(self, rule: str, subject: str, at: datetime) -> bool:
        """Whether an alert of `rule` for `subject` at `at` fires (and then it restarts the cooldown)."""
        wait = self.waits.get(rule)
        if wait is None:
            wait = self.waits[rule] = cooldown_for(rule, self.cooldowns)
        last = self.last.get((rule, subject))
        if last is not None and wait > timedelta(0) and abs(at - last) < wait:
            return False
        self.last[(rule, subject)] = max(at, last) if last is not None else at
        return True


def _replay_listening(
    db: sqlite3.Connection,
    settings: ListeningSettings,
    policies: Sequence[Policy],
    competitors: frozenset[str],
    start: datetime,
    end: datetime,
    now: datetime | None,
    examples: int,
    report: BacktestReport,
) -> None:
    """Spikes of every settled hour and crisis/VIP alerts of every mention of the period, cooldowns applied."""
    report.listening_status = REPLAYED
    report.listening = {rule: Counter(fired=0, held_back=0) for rule in LISTENING_RULES}
    gate = _Cooldowns(dict(settings.cooldowns))
    decided = _spike_alerts(db, settings, competitors, start, end, now, examples, gate, report)
    decided += _mention_alerts(db, settings, policies, competitors, start, end, gate, report)
    for alert in decided:
        report.listening.setdefault(alert.rule, Counter(fired=0, held_back=0))[
            "held_back" if alert.held_back else "fired"
        ] += 1
    report.listening_alerts = decided


def _period_hours(start: datetime, end: datetime, now: datetime | None, settle: timedelta) -> list[datetime]:
    """The hours [h, h + 1h) wholly inside [start, end) that the daemon would have judged by `now`."""
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += HOUR  # an hour that began before the period is not wholly inside it
    last = end.replace(minute=0, second=0, microsecond=0) - HOUR
    if now is not None:
        # Later hours are still running or settling: the daemon has not judged them (yet).
        last = min(last, judged_hour(now, settle))
    hours = []
    while first <= last:
        hours.append(first)
        first += HOUR
    return hours


def _spike_alerts(
    db: sqlite3.Connection,
    settings: ListeningSettings,
    competitors: frozenset[str],
    start: datetime,
    end: datetime,
    now: datetime | None,
    examples: int,
    gate: _Cooldowns,
    report: BacktestReport,
) -> list[ReplayedAlert]:
    """What `ListeningJob._spikes` would have raised at each settled hour of the period."""
    config = settings.spikes
    hours = _period_hours(start, end, now, settings.settle)
    report.hours_judged = len(hours)
    if not hours:
        return []
    span = config.baseline_days * 24 * HOUR
    # One read of the rollup for the whole period and its first baseline, not one per hour.
    counts = read_hourly_brand_counts(db, hours[0] - span, hours[-1], competitors)
    series: dict[tuple[str, str], list[HourlyCount]] = defaultdict(list)
    busy: dict[datetime, list[tuple[str, str]]] = defaultdict(list)
    for count in counts:
        key = (count.brand, count.source)
        series[key].append(count)
        if count.hour >= hours[0] and count.mentions >= config.min_count:
            busy[count.hour].append(key)  # below min_count neither rule can fire for that hour
    for bucket in series.values():
        bucket.sort(key=lambda c: c.hour)
    starts = {key: [c.hour for c in bucket] for key, bucket in series.items()}
    first_hours = read_series_first_hours(db) if busy else {}
    decided: list[ReplayedAlert] = []
    for hour in hours:
        keys = sorted(busy.get(hour, ()))
        if not keys:
            continue
        window_start = hour - span
        window: list[HourlyCount] = []
        firsts: dict[tuple[str, str], datetime] = {}
        for key in keys:
            # The job passes every series' counts, but find_spikes judges each series on its own and
            # skips those under min_count: the busy series' windows give the same spikes, much faster.
            lo = bisect.bisect_left(starts[key], window_start)
            hi = bisect.bisect_right(starts[key], hour)
            window.extend(series[key][lo:hi])
            earliest = starts[key][lo]
            if earliest > window_start:  # as the job: ask where the series really begins
                firsts[key] = first_hours.get(key) or earliest
        spikes = find_spikes(window, hour, config, firsts)
        raised = [(spike, spike_event(spike, hour, config.k, hour + HOUR + settings.settle)) for spike in spikes]
        # The store handles one pass's alerts in (time, event id) order; all of a pass share the hour.
        for spike, event in sorted(raised, key=lambda pair: pair[1].id):
            fires = gate.admit(spike.rule, spike.subject, hour)
            decided.append(ReplayedAlert(spike.rule, spike.subject, hour, event.id, not fires))
            if len(report.spike_examples) < examples:
                check = spike.check
                report.spike_examples.append(SpikeExample(
                    hour=hour, brand=spike.brand, source=spike.source, metric=check.metric, count=check.count,
                    value=check.value, threshold=check.threshold, baseline_hours=check.baseline_hours,
                    held_back=not fires,
                ))
    return decided


_MENTIONS_SQL = f"{LISTENED_MENTIONS_SQL} WHERE m.created_at >= ? AND m.created_at < ? ORDER BY m.rowid"


def _mention_alerts(
    db: sqlite3.Connection,
    settings: ListeningSettings,
    policies: Sequence[Policy],
    competitors: frozenset[str],
    start: datetime,
    end: datetime,
    gate: _Cooldowns,
    report: BacktestReport,
) -> list[ReplayedAlert]:
    """What `mention_alerts` would have raised for each mention created in [start, end)."""
    watches = build_watches(settings, policies)
    if not watches:
        return []  # nothing to watch: the job scans mentions but can raise nothing
    raised: list[RuleAlert] = []
    for r in db.execute(_MENTIONS_SQL, [iso(start), iso(end)]):
        mention = listened_mention(r, competitors)
        if mention is None:
            continue
        report.mentions_checked += 1
        if not mention.brands:
            continue  # only competitors named: never an alert
        created = mention.created_at
        alerts = mention_alerts(mention, watches, created)
        if not alerts:
            continue
        fetched = parse_iso(r[12])
        # The job only checks posts younger than max_age when it first sees them (right after they
        # are stored): a backfilled old post raises nothing, so it raises nothing here either.
        if fetched is not None and fetched - created > settings.max_age:
            report.too_old += 1
            continue
        raised.extend(alerts)
    decided = []
    # Cooldowns in time order, ties by event id, as the store orders the alerts of one pass.
    for alert in sorted(raised, key=lambda a: (a.at, a.event.id)):
        fires = gate.admit(alert.rule, alert.subject, alert.at)
        decided.append(ReplayedAlert(alert.rule, alert.subject, alert.at, alert.event.id, not fires))
    return decided


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
