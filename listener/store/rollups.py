"""The listening job's reads (hourly rollups, new mentions) and its cooldown-gated alerts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.domain import require_utc
from listener.events import Event
from listener.noise.spikes import HourlyCount
from listener.store.db import Executes, SinkRouter, iso, parse_iso
from listener.store.health import HealthStore

# What the listening rules read of a mention; the live job and the backtest add their own WHERE.
# Columns: rowid, key, source, author, followers, text, url, created_at, brands, sentiment,
# p_complaint, language, fetched_at.
LISTENED_MENTIONS_SQL = """SELECT m.rowid, m.key, m.source, m.author, COALESCE(m.author_followers, a.followers),
       m.text, m.url, m.created_at,
       (SELECT group_concat(b.brand, char(31)) FROM mention_brands b WHERE b.mention_key = m.key),
       c.sentiment, c.p_complaint, c.language, m.fetched_at
   FROM mentions m
   LEFT JOIN authors a ON a.source = m.source AND a.handle = m.author
   LEFT JOIN classifications c ON c.mention_key = m.key"""


def listened_mention(row: Sequence[Any], competitors: Collection[str]) -> ListenedMention | None:
    """A row of `LISTENED_MENTIONS_SQL` as a ListenedMention (competitor brands left out); None without a time."""
    created = parse_iso(row[7])
    if created is None:
        return None
    brands = tuple(sorted(b for b in (row[8] or "").split("\x1f") if b and b not in competitors))
    return ListenedMention(
        rowid=row[0], key=row[1], source=row[2], author=row[3] or "", followers=row[4], text=row[5] or "",
        url=row[6] or "", created_at=created, brands=brands, sentiment=row[9], p_complaint=row[10],
        language=row[11],
    )


def hour_key(value: datetime) -> str:
    """The rollups' hour bucket of an instant: "2026-01-05T09" (UTC)."""
    return require_utc(value, "hour").strftime("%Y-%m-%dT%H")


def parse_hour(value: str) -> datetime | None:
    """Inverse of `hour_key`; None for text that is not an hour bucket."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


HOURLY_BRAND_COUNTS_SQL = (
    # Grouped in primary-key order (hour first), so SQLite needs no sort.
    """SELECT brand, source, hour, SUM(mentions), SUM(scored), SUM(negative) FROM trend_brand_hourly
       WHERE hour >= ? AND hour <= ? GROUP BY hour, brand, source"""
)


SERIES_FIRST_HOUR_SQL = "SELECT MIN(hour) FROM trend_brand_hourly WHERE brand = ? AND source = ?"


# Every series at once (the (brand, source, hour) index serves the grouping): the backtest's bulk form.
SERIES_FIRST_HOURS_SQL = "SELECT brand, source, MIN(hour) FROM trend_brand_hourly GROUP BY brand, source"


def read_hourly_brand_counts(
    db: Executes, first_hour: datetime, last_hour: datetime, competitors: Iterable[str] = ()
) -> list[HourlyCount]:
    """Rollup buckets per brand, source and hour in [first_hour, last_hour], competitors left out."""
    rows = db.execute(HOURLY_BRAND_COUNTS_SQL, [hour_key(first_hour), hour_key(last_hour)]).fetchall()
    skip = frozenset(competitors)
    counts = []
    hours: dict[str, datetime | None] = {}  # each hour's text is parsed once, not once per series
    for brand, source, hour, mentions, scored, negative in rows:
        if hour not in hours:
            hours[hour] = parse_hour(hour)
        at = hours[hour]
        if brand in skip or at is None:
            continue
        counts.append(HourlyCount(brand, source, at, mentions or 0, scored or 0, negative or 0))
    return counts


def read_series_first_hour(db: Executes, brand: str, source: str) -> datetime | None:
    """The first rollup hour of one brand/source series (one index seek), or None."""
    row = db.execute(SERIES_FIRST_HOUR_SQL, [brand, source]).fetchone()
    return parse_hour(row[0]) if row and row[0] else None


def read_series_first_hours(db: Executes) -> dict[tuple[str, str], datetime]:
    """The first rollup hour of every brand/source series: `read_series_first_hour` for all at once."""
    found = {}
    for brand, source, first in db.execute(SERIES_FIRST_HOURS_SQL, []).fetchall():
        at = parse_hour(first) if first else None
        if at is not None:
            found[(brand, source)] = at
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenedMention:
    """What the listening job needs of a stored mention (brands without competitors)."""

    rowid: int
    key: str
    source: str
    author: str
    followers: int | None
    text: str
    url: str
    created_at: datetime
    brands: tuple[str, ...]
    sentiment: str | None = None
    p_complaint: float | None = None
    language: str | None = None


@dataclass(slots=True)
class ListeningOutcome:
    """What `fire_listening_alerts` did: queued, already queued before, held back by a cooldown, unrouted."""

    sent: list[Event] = field(default_factory=list)
    duplicates: int = 0
    held_back: list[Event] = field(default_factory=list)
    unrouted: int = 0


def _with_held_back(event: Event, count: int) -> Event:
    """Say in the alert how many alerts of its rule and subject the cooldown held back since the last one."""
    note = f"{count} more held back by the cooldown since the last alert"
    return dataclasses.replace(
        event, state=f"{event.state}; {note}" if event.state else note,
        explanation=dataclasses.replace(event.explanation, held_back=count),
    )


class RollupStore(HealthStore):
    """What the listening job reads and writes."""

    def hourly_brand_counts(self, first_hour: datetime, last_hour: datetime) -> list[HourlyCount]:
        """Classified, scored and negative mentions per brand, source and hour in [first_hour, last_hour].

        Competitor brands are left out. Reads the `trend_brand_hourly` rollup that triggers keep
        current: its primary key starts with the hour, so the cost follows the window, not the
        number of stored mentions.
        """
        return read_hourly_brand_counts(self.db, first_hour, last_hour, self.competitors)

    def series_first_hour(self, brand: str, source: str) -> datetime | None:
        """The first hour with a classified mention of `brand` on `source` (one index seek)."""
        return read_series_first_hour(self.db, brand, source)

    def listening_cursor(self) -> int | None:
        """The rowid of the last mention the listening job handled, or None to start from recent posts.

        The row's key is saved with its rowid: if VACUUM renumbered the rows the key finds its new
        place; if the row is gone, None (event ids still keep a mention from alerting twice).
        """
        row = self.db.execute("SELECT value FROM listening_state WHERE name = 'mentions'").fetchone()
        if row is None:
            return None
        saved = json.loads(row[0])
        if not saved.get("key"):
            return int(saved.get("rowid") or 0)
        found = self.db.execute("SELECT rowid FROM mentions WHERE key = ?", [saved["key"]]).fetchone()
        return int(found[0]) if found else None

    def listening_mentions(
        self, after: int | None, posted_since: datetime, limit: int = 1000
    ) -> tuple[list[ListenedMention], tuple[int, str]]:
        """Mentions stored after rowid `after` and posted since `posted_since`, in storage order, with
        their brands (competitors left out) and the author's follower count; and the cursor to save
        once they are handled. `after=None` starts at the first mention posted since `posted_since`.
        """
        since = iso(posted_since)
        if after is None:
            # Without INDEXED BY, SQLite walks the table in rowid order looking for the first recent row.
            first = self.db.execute(
                "SELECT MIN(rowid) FROM mentions INDEXED BY idx_mentions_created_at WHERE created_at >= ?", [since]
            ).fetchone()
            if first and first[0] is not None:
                after = int(first[0]) - 1
            else:
                last = self.db.execute("SELECT MAX(rowid) FROM mentions").fetchone()
                after = int(last[0]) if last and last[0] is not None else 0
        # `+m.created_at` keeps SQLite on the rowid range (the cursor), not the created_at index.
        rows = self.db.execute(
            f"{LISTENED_MENTIONS_SQL} WHERE m.rowid > ? AND +m.created_at >= ? ORDER BY m.rowid LIMIT ?",
            [after, since, limit],
        ).fetchall()
        found = [m for m in (listened_mention(r, self.competitors) for r in rows) if m is not None]
        if len(rows) == limit:
            cursor = (int(rows[-1][0]), str(rows[-1][1]))
        else:
            # Everything up to the newest row was looked at (rows posted too long ago included).
            last = self.db.execute("SELECT rowid, key FROM mentions ORDER BY rowid DESC LIMIT 1").fetchone()
            cursor = (int(last[0]), str(last[1])) if last else (0, "")
        return found, cursor

    def fire_listening_alerts(
        self,
        alerts: Sequence[Event],
        cooldown: Callable[[str], timedelta],
        router: SinkRouter,
        cursor: tuple[int, str] | None = None,
    ) -> ListeningOutcome:
        """Queue each alert once (by event id) unless its rule's cooldown for its subject is running.

        An alert held back by the cooldown is recorded (once) and counted into the next alert of
        the same rule and subject. The mention cursor is saved in the same transaction, so a crash
        neither loses nor repeats an alert.
        """
        outcome = ListeningOutcome()
        with self.db.atomic():
            for alert in sorted(alerts, key=lambda a: (a.occurred_at, a.id)):
                event_id, rule, subject, at = alert.id, alert.alert_rule, alert.alert_subject, alert.occurred_at
                if (self.db.execute("SELECT 1 FROM events WHERE id = ?", [event_id]).fetchone()
                        or self.db.execute("SELECT 1 FROM alert_skips WHERE event_id = ?", [event_id]).fetchone()):
                    outcome.duplicates += 1
                    continue
                row = self.db.execute(
                    "SELECT last_at FROM alert_cooldowns WHERE rule = ? AND subject = ?", [rule, subject]
                ).fetchone()
                last_at = parse_iso(row[0]) if row else None
                wait = cooldown(rule)
                if last_at is not None and wait > timedelta(0) and abs(at - last_at) < wait:
                    self.db.execute(
                        "INSERT OR IGNORE INTO alert_skips (event_id, rule, subject, at) VALUES (?, ?, ?, ?)",
                        [event_id, rule, subject, iso(at)],
                    )
                    outcome.held_back.append(alert)
                    continue
                held = self.db.execute(
                    "SELECT COUNT(*) FROM alert_skips WHERE rule = ? AND subject = ? AND at >= ?",
                    [rule, subject, iso(last_at) if last_at else ""],
                ).fetchone()[0]
                event = _with_held_back(alert, held) if held else alert
                if not self._enqueue(event, router):
                    outcome.unrouted += 1  # no sink wants this kind: nothing sent, no cooldown started
                    continue
                latest = max(at, last_at) if last_at else at
                self.db.execute(
                    """INSERT INTO alert_cooldowns (rule, subject, last_at, event_id) VALUES (?, ?, ?, ?)
                       ON CONFLICT(rule, subject) DO UPDATE SET last_at = excluded.last_at,
                                                                event_id = excluded.event_id""",
                    [rule, subject, iso(latest), event_id],
                )
                outcome.sent.append(event)
            if cursor is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO listening_state (name, value) VALUES ('mentions', ?)",
                    [json.dumps({"rowid": cursor[0], "key": cursor[1]})],
                )
        return outcome
