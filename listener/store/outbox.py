"""The outbox: events queued per sink, their delivery outcomes, mutes and alert statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from listener.domain import require_utc
from listener.events import Delivery, Event
from listener.noise.controls import Alert, Digest, HeldAlert, Mute, SentAlert
from listener.store.db import SinkRouter, StoreBase, iso, parse_iso
from listener.text import clean_text


@dataclass(frozen=True, slots=True)
class Claim:
    """What one dispatch pass of a sink works on (see `SyncStore.claim_deliveries`)."""

    items: list[Delivery]
    refs: dict[str, str]
    mutes: list[Mute]
    held: list[HeldAlert]
    history: list[SentAlert]


@dataclass(slots=True)
class Outcomes:
    """The result of one dispatch pass of a sink, written by `SyncStore.record_outcomes` at once.

    A delivery to people is an `Alert` (its channel, rule and cooldown subject are recorded with it, for
    the noise controls of later passes); a delivery to a machine sink is a plain `Delivery`.
    """

    delivered: list[tuple[Alert | Delivery, str | None]] = field(default_factory=list)  # with the sink's ref
    failed: list[tuple[Delivery, str, datetime]] = field(default_factory=list)  # error, retry at
    suppressed: list[tuple[Alert | Delivery, str]] = field(default_factory=list)  # reason
    held: list[HeldAlert] = field(default_factory=list)
    digests: list[tuple[Digest, str | None]] = field(default_factory=list)  # with the sink's ref

    def __len__(self) -> int:
        return (len(self.delivered) + len(self.failed) + len(self.suppressed) + len(self.held)
                + sum(len(d.members) for d, _ in self.digests))


def _recorded(item: Alert | Delivery) -> tuple[int, str | None, str | None, str | None]:
    """(event_seq, channel, rule, subject) as a delivery row keeps them; a machine delivery has none."""
    if isinstance(item, Alert):
        return item.delivery.event_seq, item.channel or None, item.rule or None, item.subject or None
    return item.event_seq, None, None, None


# A thread's deliveries to one sink, found from the thread's few events. CROSS JOIN fixes that
# order: left to itself SQLite walks the sink's whole delivered history (its state index gives the
# ORDER BY for free), so every dispatch pass grew slower with the age of the database.
_THREAD_DELIVERIES = "FROM events e CROSS JOIN deliveries d ON d.event_seq = e.seq AND d.sink = ?"


class OutboxStore(StoreBase):
    """Queue events and record what each sink did with them."""

    def enqueue(self, event: Event, router: SinkRouter) -> bool:
        """Queue an event for its sinks (idempotent on `event.id`)."""
        with self.db.atomic():
            return self._enqueue(event, router)

    def _enqueue(self, event: Event, router: SinkRouter) -> bool:
        sinks = router(event)
        if not sinks:
            return False
        cur = self.db.execute(
            "INSERT OR IGNORE INTO events (id, kind, brand, thread, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [event.id, event.kind.value, event.brand, event.thread, iso(event.created_at),
             clean_text(event.to_json(), limit=10_000_000)],
        )
        if cur.rowcount == 0:
            return False
        seq = cur.lastrowid
        for sink in sinks:
            self.db.execute(
                """INSERT INTO deliveries (event_seq, sink, state, attempts, next_attempt_at)
                   VALUES (?, ?, 'pending', 0, ?)""",
                [seq, sink, iso(event.created_at)],
            )
        return True

    def retry_wait(self, sink: str, now: datetime) -> datetime | None:
        """Until when `sink` waits after a failed delivery (its `Retry-After` or backoff), or None when it is free.

        The wait is the sink's, not one event's: a 429's Retry-After covers every request to the
        service, so events queued before the failed one, not sent yet, wait as well.
        """
        row = self.db.execute(
            """SELECT MAX(next_attempt_at) FROM deliveries
               WHERE state IN ('pending', 'held') AND sink = ? AND attempts > 0 AND next_attempt_at > ?""",
            [sink, iso(now)],
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def pending_deliveries(self, sink: str, now: datetime, limit: int = 100) -> list[Delivery]:
        """The oldest undelivered events for `sink`, in order, stopping at the first not yet due.

        Nothing while the sink waits for a retry (`retry_wait`).
        """
        if self.retry_wait(sink, now) is not None:
            return []
        rows = self.db.execute(
            """SELECT d.event_seq, d.attempts, d.next_attempt_at, e.payload FROM deliveries d
               JOIN events e ON e.seq = d.event_seq
               WHERE d.sink = ? AND d.state = 'pending' ORDER BY d.event_seq LIMIT ?""",
            [sink, limit],
        ).fetchall()
        due = []
        for seq, attempts, next_at, payload in rows:
            if next_at and next_at > iso(now):
                break  # keep per-sink order: nothing overtakes an event that waits for a retry
            due.append(Delivery(seq, sink, attempts, Event.from_json(payload)))
        return due

    def claim_deliveries(
        self, sink: str, now: datetime, limit: int = 100, *, mutes: bool = False, held: bool = False,
        history_since: datetime | None = None,
    ) -> Claim:
        """Everything one dispatch pass of `sink` needs, in one call on the store thread.

        The due pending deliveries (as `pending_deliveries`), the last ref of each of their
        threads, and when asked the active mutes, the held deliveries, and what the sink sent
        since `history_since` (for cooldowns and the rate limit). An empty claim while the sink
        waits for a retry (`retry_wait`).
        """
        if self.retry_wait(sink, now) is not None:
            # Held alerts due now wait too: a digest is a request to the same service.
            return Claim([], {}, [], [], [])
        items = self.pending_deliveries(sink, now, limit)
        holds: list[HeldAlert] = []
        history: list[SentAlert] = []
        if held:
            rows = self.db.execute(
                """SELECT d.event_seq, d.attempts, d.held_until, d.suppressed, d.channel, e.payload
                   FROM deliveries d JOIN events e ON e.seq = d.event_seq
                   WHERE d.sink = ? AND d.state = 'held' ORDER BY d.event_seq""",
                [sink],
            ).fetchall()
            # The rule and subject are the event's own; the channel is where the sink would have sent it.
            holds = [HeldAlert(Alert(Delivery(r[0], sink, r[1], Event.from_json(r[5])), r[4] or ""),
                               parse_iso(r[2]) or now, r[3] or "") for r in rows]
        if history_since is not None:
            history = [
                SentAlert(r[0] or "", r[1] or "", parse_iso(r[3]) or now, r[2] or "")
                for r in self.db.execute(
                    """SELECT rule, channel, subject, delivered_at FROM deliveries
                       WHERE sink = ? AND delivered_at > ? AND state = 'delivered' AND channel IS NOT NULL""",
                    [sink, iso(history_since)],
                ).fetchall()
            ]
            history += [
                SentAlert("digest", r[0] or "", parse_iso(r[1]) or now)
                for r in self.db.execute(
                    "SELECT channel, sent_at FROM digests WHERE sink = ? AND sent_at > ?", [sink, iso(history_since)]
                ).fetchall()
            ]
        threads = sorted({d.event.thread for d in items} | {h.alert.event.thread for h in holds})
        return Claim(items, self.last_refs(threads, sink), self.active_mutes(now) if mutes else [], holds, history)

    def last_refs(self, threads: Sequence[str], sink: str) -> dict[str, str]:
        """What `sink` returned for the latest delivered event of each thread (threads without a ref are left out)."""
        refs: dict[str, str] = {}
        for start in range(0, len(threads), 500):
            chunk = list(threads[start : start + 500])
            marks = ",".join("?" for _ in chunk)
            for thread, ref in self.db.execute(
                f"""SELECT e.thread, d.ref {_THREAD_DELIVERIES}
                    WHERE e.thread IN ({marks}) AND d.state = 'delivered' AND d.ref IS NOT NULL
                    ORDER BY d.event_seq""",
                [sink, *chunk],
            ):
                refs[thread] = ref  # ordered by seq: the latest wins
        return refs

    def record_outcomes(self, sink: str, outcomes: Outcomes, now: datetime) -> None:
        """Record one dispatch pass of `sink` in one transaction (delivered, failed, suppressed, held, digested)."""
        stamp = iso(now)
        with self.db.atomic():
            self.db.conn.executemany(
                """UPDATE deliveries SET state = 'delivered', ref = ?, delivered_at = ?, attempts = attempts + 1,
                          last_error = NULL, channel = ?, rule = ?, subject = ?, held_until = NULL
                   WHERE event_seq = ? AND sink = ?""",
                [(ref, stamp, *_recorded(item)[1:], _recorded(item)[0], sink) for item, ref in outcomes.delivered],
            )
            self.db.conn.executemany(
                """UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
                          held_until = CASE WHEN state = 'held' THEN ? ELSE held_until END
                   WHERE event_seq = ? AND sink = ?""",
                [(error[:500], iso(at), iso(at), item.event_seq, sink) for item, error, at in outcomes.failed],
            )
            self.db.conn.executemany(
                """UPDATE deliveries SET state = 'suppressed', suppressed = ?, delivered_at = ?, channel = ?,
                          rule = ?, subject = ?, held_until = NULL WHERE event_seq = ? AND sink = ?""",
                [(reason[:500], stamp, *_recorded(item)[1:], _recorded(item)[0], sink)
                 for item, reason in outcomes.suppressed],
            )
            self.db.conn.executemany(
                """UPDATE deliveries SET state = 'held', suppressed = ?, held_until = ?, channel = ?, rule = ?,
                          subject = ? WHERE event_seq = ? AND sink = ?""",
                [(h.reason[:500], iso(h.until), *_recorded(h.alert)[1:], _recorded(h.alert)[0], sink)
                 for h in outcomes.held],
            )
            for digest, ref in outcomes.digests:
                self.db.execute(
                    """INSERT OR REPLACE INTO digests (id, sink, channel, sent_at, size, reasons, ref)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [digest.id, sink, digest.channel, stamp, len(digest.members), ",".join(digest.reasons), ref],
                )
                # Each alert keeps the reason it was held for (or rate_limit); `digest` says which message carried it.
                self.db.conn.executemany(
                    """UPDATE deliveries SET state = 'digested', digest = ?, delivered_at = ?, channel = ?, rule = ?,
                              subject = ?, held_until = NULL, attempts = attempts + 1, last_error = NULL,
                              suppressed = ? WHERE event_seq = ? AND sink = ?""",
                    [(digest.id, stamp, *_recorded(alert)[1:], reason[:500], _recorded(alert)[0], sink)
                     for alert, reason in digest.members],
                )

    def add_mute(self, scope: str, name: str, until: datetime, by: str, now: datetime) -> None:
        """Mute a source or brand for humans until `until` (replaces an earlier mute of the same name)."""
        if scope not in ("source", "brand"):
            raise ValueError(f"mute scope must be 'source' or 'brand', not {scope!r}")
        require_utc(until, "until")
        self.db.execute(
            "INSERT OR REPLACE INTO mutes (scope, name, until, by, created_at) VALUES (?, ?, ?, ?, ?)",
            [scope, name, iso(until), by, iso(now)],
        )

    def remove_mute(self, scope: str, name: str) -> bool:
        """Lift a mute; False when there was none."""
        return self.db.execute("DELETE FROM mutes WHERE scope = ? AND name = ?", [scope, name]).rowcount > 0

    def active_mutes(self, now: datetime) -> list[Mute]:
        """Every mute still in force at `now` (source mutes first, each scope by name)."""
        rows = self.db.execute(
            "SELECT scope, name, until FROM mutes WHERE until > ? ORDER BY scope DESC, name", [iso(now)]
        ).fetchall()
        return [Mute(brand=name if scope == "brand" else "", source=name if scope == "source" else "",
                     until=parse_iso(until)) for scope, name, until in rows]

    def alert_stats(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per alert kind: fired, acted on, replied after it (in target / at all), suppressed.

        Suppressed counts the dropped, held and digested deliveries.
        """
        rows = self.db.execute(
            """SELECT e.kind, COUNT(*),
                      SUM(EXISTS (SELECT 1 FROM actions a WHERE a.mention_key = e.thread AND a.at >= e.created_at)),
                      SUM(EXISTS (SELECT 1 FROM complaints c WHERE c.mention_key = e.thread
                                  AND c.close_reason IN ('replied', 'marked_replied')
                                  AND c.closed_at >= e.created_at AND c.closed_at <= c.deadline)),
                      SUM(EXISTS (SELECT 1 FROM complaints c WHERE c.mention_key = e.thread
                                  AND c.close_reason IN ('replied', 'marked_replied')
                                  AND c.closed_at >= e.created_at)),
                      SUM(EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq
                                  AND d.state IN ('suppressed', 'held', 'digested')))
               FROM events e
               WHERE e.kind NOT IN ('mention', 'action', 'replied') AND e.created_at >= ?
               GROUP BY e.kind ORDER BY e.kind""",
            [iso(since) if since else ""],
        ).fetchall()
        return [
            {"rule": r[0], "fired": r[1], "acted_on": r[2] or 0, "replied_in_target": r[3] or 0,
             "replied_after": r[4] or 0, "suppressed": r[5] or 0}
            for r in rows
        ]

    def outbox_counts(self) -> dict[str, int]:
        """Deliveries by state."""
        return dict(self.db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
