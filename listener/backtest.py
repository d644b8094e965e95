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
from listener.clocks import ClockEngine, load_escalations, seconds
from listener.domain import require_utc
from listener.events import Event
from listener.listening import CRISIS, VIP, build_watches, mention_alerts
from listener.noise import HOUR, HourlyCount, cooldown_for, find_spikes, judged_hour, spike_event
from listener.sla.cases import (
    ANSWERED,
    CaseAction,
    CaseHistory,
    CaseMessage,
    CaseReply,
    case_outcome,
    ladder_changes,
    ladder_state,
    replay,
    replay_ladder,
    resolve_case,
)
from listener.sla.policy import Policy
from listener.store import (
    CORRECTION_DISMISSALS_SQL,
    LISTENED_MENTIONS_SQL,
    iso,
    listened_mention,
    parse_iso,
    read_case_messages,
    read_hourly_brand_counts,
    read_series_first_hours,
)

SPIKE_RULES = ("spike.volume", "spike.negative_share")
LISTENING_RULES = (*SPIKE_RULES, CRISIS, VIP)
# Why the listening rules were not replayed (BacktestReport.listening_status).
REPLAYED = "replayed"
NOT_REQUESTED = "not requested"
DISABLED = "skipped: [alerts.listening] enabled = false"


@dataclass(frozen=True, slots=True)
class ReplayedAlert:
    """One listening alert the daemon would have raised (the event itself), and whether its cooldown held it back."""

    event: Event
    held_back: bool

    @property
    def rule(self) -> str:
        """The listening rule ("spike.volume", "crisis", ...)."""
        return self.event.alert_rule

    @property
    def subject(self) -> str:
        """What the rule's cooldown is kept per."""
        return self.event.alert_subject

    @property
    def at(self) -> datetime:
        """The time the cooldown is kept by (the judged hour, or the mention's post time)."""
        return self.event.occurred_at

    @property
    def event_id(self) -> str:
        """The id the live job would have queued it under."""
        return self.event.id


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
    not_complaint: int = 0  # dismissed as not a complaint before they were answered (no clock counted)
    fired: Counter[str] = field(default_factory=Counter)
    by_policy: dict[str, Counter[str]] = field(default_factory=dict)
    listening_status: str = NOT_REQUESTED
    hours_judged: int = 0
    mentions_checked: int = 0
    too_old: int = 0  # mentions that would have alerted but were stored later than `max_age` (backfills)
    listening: dict[str, Counter[str]] = field(default_factory=dict)
    spike_examples: list[SpikeExample] = field(default_factory=list)
    # Each case's outcome at the period's end (`listener.sla.cases.case_outcome`); not in `to_dict`.
    cases: dict[str, str] = field(default_factory=dict, repr=False)
    # Every ladder step id the clocks would fire (the live sweep's event ids); not in `to_dict`.
    steps: list[str] = field(default_factory=list, repr=False)
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
            "not_complaint": self.not_complaint,
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
        _replay_clocks(db, engine, start, end, report, frozenset(competitors))
        if listening is not None:
            if listening.enabled:
                _replay_listening(db, listening, policies, frozenset(competitors), start, end, now, examples, report)
            else:
                report.listening_status = DISABLED
    finally:
        db.close()
    return report


def _replay_clocks(db: sqlite3.Connection, engine: ClockEngine, start: datetime, end: datetime,
                   report: BacktestReport, competitors: frozenset[str] = frozenset()) -> None:
    """The SLA part: file the period's mentions into cases and replay each case with the live case rules.

    The same functions as the live run decide (`listener.sla.cases`): which case a mention joins, what
    the replies, follow-ups, buttons, acknowledgements and "not a complaint" labels do to its clock,
    and which ladder steps the sweep fires. Only the policies and calendars may differ (`engine`).
    """
    book = _CaseBook.load(db, engine, start, end, competitors)
    for case in book.cases:
        clock = replay(book.history(case), engine, engine.rules, end)
        if clock is None:
            continue
        report.cases[clock.case_key] = case_outcome(clock, end)
        if clock.state == "not_complaint":
            report.not_complaint += 1
            continue
        report.clocks += 1
        first = clock.rounds[0]
        answered_at = next((r.closed_at for r in clock.rounds if r.state in ANSWERED), None)
        if clock.state in ANSWERED and not clock.late and not any(r.late for r in clock.rounds):
            report.met += 1
        elif any(r.late for r in clock.rounds) or (clock.state == "open" and clock.deadline.due < end):
            report.missed += 1
        if answered_at is None:
            report.unanswered += 1
        per_policy = report.by_policy.setdefault(first.deadline.policy, Counter())
        per_policy["clocks"] += 1
        for round_ in clock.rounds:
            d = round_.deadline
            state = ladder_state(round_, load_escalations(d.escalations), seconds(d.reescalate_after),
                                 tuple(json.loads(d.reescalate_to or "[]")))
            until = round_.closed_at if round_.closed_at is not None else end
            for _, step, kind in replay_ladder(state, engine.calendar(d.calendar), until, ladder_changes(round_)):
                report.fired[kind.value] += 1
                per_policy[kind.value] += 1
                report.steps.append(step)


class _CaseBook:
    """The period's cases, filed in time order by the live rules (`joins`, `resolve_case`), in memory."""

    def __init__(self, engine: ClockEngine, messages: list[CaseMessage], links: dict[str, tuple[str, str | None,
                 str | None]], alias: dict[str, str], replies: list[tuple[str, str, CaseReply]],
                 actions: list[tuple[str, CaseAction]]) -> None:
        self.engine = engine
        self.links = links  # key -> (source, in_reply_to key, conversation id)
        self.alias = alias
        self.answered = {key: to for key, to, _ in replies}
        self.member: dict[str, str] = {}
        self.members: dict[str, list[CaseMessage]] = {}
        self.replies = replies
        self.actions = actions
        for message in messages:
            self._file(message)

    @classmethod
    def load(cls, db: sqlite3.Connection, engine: ClockEngine, start: datetime, end: datetime,
             competitors: frozenset[str]) -> _CaseBook:
        """Read the period's classified mentions and every reply, action and dismissal."""
        messages = sorted(
            read_case_messages(db, "cl.scored = 1 AND m.created_at >= ? AND m.created_at < ?",
                               [iso(start), iso(end)], competitors),
            key=lambda m: (m.at, m.key))
        messages = [m for m in messages if m.facts.brand]
        links = {r[0]: (r[1], f"{r[1]}:{r[2]}" if r[2] else None, r[3]) for r in db.execute(
            "SELECT key, source, in_reply_to, conversation_id FROM mentions WHERE created_at >= ? AND created_at < ?",
            [iso(start), iso(end)])}
        alias = dict(db.execute("SELECT sighting_key, mention_key FROM mention_sightings").fetchall())
        replies = [(r[0], r[1], CaseReply(r[0], r[2], _utc(r[3]))) for r in db.execute(
            "SELECT key, mention_key, author, created_at, counts FROM replies") if r[4]]
        actions = [(r[0], CaseAction(r[1], r[2] or "", _utc(r[3]), r[4] or "", parse_iso(r[5]))) for r in db.execute(
            "SELECT mention_key, action, user, at, request_key, until FROM actions")]
        actions += [(r[3], CaseAction("not_complaint", r[1] or "label", _utc(r[2]), f"label-{r[0]}"))
                    for r in db.execute(CORRECTION_DISMISSALS_SQL)]
        return cls(engine, messages, links, alias, replies, actions)

    @property
    def cases(self) -> list[str]:
        """The case keys, in the order they were opened."""
        return list(self.members)

    def history(self, case: str, until: datetime | None = None) -> CaseHistory:
        """A case's messages, counted replies and actions (those up to `until` when given)."""
        messages = tuple(self.members[case])
        keys = {m.key for m in messages}
        replies = tuple(r for key, to, r in self.replies
                        if self._case_of(to) == case or to in keys)
        actions = tuple(a for key, a in self.actions if key in keys or self._case_of(key) == case)
        if until is not None:
            replies = tuple(r for r in replies if r.at <= until)
            actions = tuple(a for a in actions if a.at <= until)
            messages = tuple(m for m in messages if m.at <= until)
        return CaseHistory(messages, replies, actions)

    def _case_of(self, key: str) -> str | None:
        def up(k: str) -> str | None:
            if k in self.links:
                return self.links[k][1]
            return self.answered.get(k)

        return resolve_case(key, alias=self.alias.get, case_of_member=self.member.get, up=up)

    def _file(self, message: CaseMessage) -> None:
        case = self._linked(message)
        if case is None:
            if replay(CaseHistory((message,)), self.engine, self.engine.rules, message.at) is None:
                return  # no policy covers it: no case (the live run keeps no membership either)
            case = message.key
            self.members[case] = []
        self.member[message.key] = case
        self.members[case].append(message)

    def _linked(self, message: CaseMessage) -> str | None:
        source, parent, conversation = self.links.get(message.key, (message.facts.source, None, None))
        if parent is not None:
            case = self._case_of(parent)
            if case is not None:
                return case
        if conversation:
            for case, members in self.members.items():
                if any(self.links.get(m.key, ("", None, None))[2] == conversation
                       and self.links[m.key][0] == source for m in members):
                    return case
        window = self.engine.rules.follow_up_window
        best: tuple[datetime, str] | None = None
        for case, members in self.members.items():
            root = members[0]
            if root.author != message.author or root.facts.source != source or root.facts.brand != message.facts.brand:
                continue
            clock = replay(self.history(case, message.at), self.engine, self.engine.rules, message.at)
            if clock is None or abs(clock.opened_at - message.at) > window:
                continue
            if best is None or clock.opened_at > best[0]:
                best = (clock.opened_at, case)
        if best and self.engine.joins(message, "author", message.facts.brand, best[0]):
            return best[1]
        return None


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
            decided.append(ReplayedAlert(event, not fires))
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
    raised: list[Event] = []
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
    for alert in sorted(raised, key=lambda a: (a.occurred_at, a.id)):
        fires = gate.admit(alert.alert_rule, alert.alert_subject, alert.occurred_at)
        decided.append(ReplayedAlert(alert, not fires))
    return decided
