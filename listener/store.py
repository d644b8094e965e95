"""SQLite store (sqlite-utils, WAL): every read and write goes through one dedicated thread."""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import sqlite_utils

from alerts.base import Event, EventKind
from listener.domain import Cursor, Mention, Reply, require_utc
from listener.migrations import enable_wal, migrations
from listener.clocks import ClockEngine, StoredDeadline, load_escalations, seconds
from listener.dedupe import canonical_url, fingerprint
from listener.sla.ladder import ClockState, StepKind, evaluate
from listener.sla.policy import MentionFacts, TargetKind, default_policy
from listener.text import clean_text
from listener.timefmt import iso, parse_iso
from connectors.matching import same_account
from connectors.timeutil import to_utc
from models.base import Classification

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint's response clock as stored."""

    mention_key: str
    brand: str
    source: str
    opened_at: datetime
    warn_at: datetime
    deadline: datetime
    state: str
    warned_at: datetime | None
    breached_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
    response_seconds: float | None
    author: str = ""
    text: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One pending (event, sink) pair from the outbox."""

    event_seq: int
    sink: str
    attempts: int
    event: Event


@dataclass(frozen=True, slots=True)
class HeldDelivery:
    """A delivery that noise controls hold back until `until` (quiet hours or the rate limit)."""

    delivery: Delivery
    until: datetime
    reason: str
    channel: str
    rule: str
    subject: str


@dataclass(frozen=True, slots=True)
class Claim:
    """What one dispatch pass of a sink works on (see `SyncStore.claim_deliveries`)."""

    items: list[Delivery]
    refs: dict[str, str]
    mutes: dict[tuple[str, str], datetime]
    held: list[HeldDelivery]
    history: list[tuple[str, str, str, datetime]]  # (rule, channel, subject, sent at)


@dataclass(frozen=True, slots=True)
class NoiseMeta:
    """Where a delivery went for noise controls: its channel, rule and cooldown subject."""

    channel: str = ""
    rule: str = ""
    subject: str = ""


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """A digest message that went out, and the held deliveries (seq, reason or None, meta) it carried."""

    id: str
    channel: str
    reasons: tuple[str, ...]
    ref: str | None
    members: list[tuple[int, str | None, NoiseMeta]]


@dataclass(slots=True)
class Outcomes:
    """The result of one dispatch pass of a sink, written by `SyncStore.record_outcomes` at once."""

    delivered: list[tuple[int, str | None, NoiseMeta]] = field(default_factory=list)
    failed: list[tuple[int, str, datetime]] = field(default_factory=list)
    suppressed: list[tuple[int, str, NoiseMeta]] = field(default_factory=list)
    held: list[tuple[int, str, datetime, NoiseMeta]] = field(default_factory=list)
    digests: list[DigestRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.delivered) + len(self.failed) + len(self.suppressed) + len(self.held)
                + sum(len(d.members) for d in self.digests))


SinkRouter = Callable[[Event], list[str]]

# A thread's deliveries to one sink, found from the thread's few events. CROSS JOIN fixes that
# order: left to itself SQLite walks the sink's whole delivered history (its state index gives the
# ORDER BY for free), so every dispatch pass grew slower with the age of the database.
_THREAD_DELIVERIES = "FROM events e CROSS JOIN deliveries d ON d.event_seq = e.seq AND d.sink = ?"

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


def _row_to_event(payload: str) -> Event:
    data = json.loads(payload)
    for key in ("created_at", "mention_at", "deadline"):
        data[key] = parse_iso(data.get(key))
    data["kind"] = EventKind(data["kind"])
    return Event(**data)


class SyncStore:
    """The store's real implementation; use it from one thread only (see `Store`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        if str(path) != ":memory:":
            enable_wal(self.db)  # retries while another process holds the write lock (a migration)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(self.db)
        # Competitor brands get clocks (for comparison reports) but never alerts.
        self.competitors: frozenset[str] = frozenset()
        # Brand accounts whose replies never stop a clock (auto-replies), per source.
        self.bots: dict[str, tuple[str, ...]] = {}
        self.engine = ClockEngine([default_policy()], {})
        self._reopened: list[tuple[str, datetime]] = []

    def set_engine(self, engine: ClockEngine) -> None:
        """The policies and calendars that compute every clock."""
        self.engine = engine

    def set_bots(self, bots: dict[str, Sequence[str]]) -> None:
        """Name, per source, the brand accounts that only auto-reply."""
        self.bots = {source: tuple(handles) for source, handles in bots.items()}

    def _is_bot(self, source: str, author: str) -> bool:
        return any(same_account(author, bot) for bot in self.bots.get(source, ()))

    def set_competitors(self, names: Iterable[str]) -> None:
        """Name the brands whose clocks are tracked for comparison only."""
        self.competitors = frozenset(names)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # -- ingest ---------------------------------------------------------------------------

    def ingest(
        self,
        source: str,
        mentions: Sequence[Mention],
        replies: Sequence[Reply],
        cursor: Cursor | None,
        now: datetime,
        router: SinkRouter | None = None,
    ) -> list[str]:
        """Store new mentions, replies and the cursor in one transaction; return the new keys.

        A mention seen before (same source and external id) is ignored, so polling twice
        never duplicates anything.
        """
        new_keys: list[str] = []
        self._reopened = []
        with self.db.atomic():
            for mention in mentions:
                if self._insert_mention(mention, now):
                    new_keys.append(mention.key)
            for key, edited_at in self._reopened:
                self._reopen(key, edited_at)
                new_keys.append(key)  # re-judged by the classifier with the edited text
            if replies:
                self._record_replies(replies, now, router)
            if cursor is not None:
                self.db["cursors"].upsert(
                    {"source": source, "cursor": cursor, "updated_at": iso(now)}, pk="source"
                )
        return new_keys

    def _insert_mention(self, mention: Mention, now: datetime) -> bool:
        """Store a new post; a post seen again (boost, cross-post, second source) only adds reach."""
        sighting = mention.sighting_key
        if self.db.execute("SELECT 1 FROM mention_sightings WHERE sighting_key = ?", [sighting]).fetchone():
            self._apply_edit(mention, now)
            return False
        url = canonical_url(mention.url)
        text = clean_text(mention.text)
        print_ = fingerprint(text, mention.author)
        existing = self._same_post(mention, url, print_)
        if existing is not None:
            self.db.execute(
                "INSERT OR IGNORE INTO mention_sightings (sighting_key, mention_key, source, seen_at) VALUES (?, ?, ?, ?)",
                [sighting, existing, mention.source, iso(now)],
            )
            self.db.execute("UPDATE mentions SET reach = COALESCE(reach, 1) + 1 WHERE key = ?", [existing])
            return False
        row = {
            "key": mention.key,
            "source": mention.source,
            "external_id": mention.external_id,
            "text": text,
            "author": clean_text(mention.author, limit=200),
            "author_name": clean_text(mention.author_name, limit=200),
            "author_followers": mention.author_followers,
            "url": clean_text(mention.url, limit=2000),
            "lang": mention.lang,
            "in_reply_to": mention.in_reply_to,
            "conversation_id": mention.conversation_id,
            "created_at": iso(mention.created_at),
            "fetched_at": iso(now),
            "classified_at": None,
            "raw": json.dumps(mention.raw, default=str, ensure_ascii=False) if mention.raw else None,
            "reach": 1,
            "canonical_url": url or None,
            "fingerprint": print_ or None,
            "edited_at": iso(edited) if (edited := edited_at(mention)) else None,
        }
        self.db.execute(
            "INSERT INTO mentions ({}) VALUES ({})".format(
                ", ".join(f"[{k}]" for k in row), ", ".join("?" for _ in row)
            ),
            [clean_text(v, limit=10_000_000) if k == "raw" and v else v for k, v in row.items()],
        )
        self.db.execute(
            "INSERT OR IGNORE INTO mention_sightings (sighting_key, mention_key, source, seen_at) VALUES (?, ?, ?, ?)",
            [sighting, mention.key, mention.source, iso(now)],
        )
        for brand in mention.brands:
            self.db.execute(
                "INSERT OR IGNORE INTO mention_brands (mention_key, brand) VALUES (?, ?)", [mention.key, brand]
            )
        self.db.execute(
            """INSERT INTO authors (source, handle, name, followers, first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(source, handle) DO UPDATE SET
                 name = excluded.name, followers = COALESCE(excluded.followers, followers),
                 last_seen = excluded.last_seen""",
            [mention.source, row["author"], row["author_name"], mention.author_followers, iso(now), iso(now)],
        )
        return True

    def _same_post(self, mention: Mention, url: str, print_: str) -> str | None:
        """Key of a stored mention that is the same post under another source.

        Within one source the external id is the identity: two items with different ids are two
        posts even when they share a URL (every App Store review links to the app's page) or
        their words (a customer repeating a complaint).
        """
        found = self.db.execute("SELECT key FROM mentions WHERE key = ?", [mention.key]).fetchone()
        if found is None and url:
            found = self.db.execute(
                "SELECT key FROM mentions WHERE canonical_url = ? AND source <> ? LIMIT 1", [url, mention.source]
            ).fetchone()
        if found is None and print_:
            found = self.db.execute(
                "SELECT key FROM mentions WHERE fingerprint = ? AND source <> ? AND created_at BETWEEN ? AND ? LIMIT 1",
                [print_, mention.source, iso(mention.created_at - timedelta(days=1)),
                 iso(mention.created_at + timedelta(days=1))],
            ).fetchone()
        return found[0] if found else None

    def _apply_edit(self, mention: Mention, now: datetime) -> None:
        """An edit newer than what we stored: keep the new text, re-judge it, maybe reopen its clock."""
        edited = edited_at(mention)
        if edited is None:
            return
        row = self.db.execute("SELECT edited_at FROM mentions WHERE key = ?", [mention.key]).fetchone()
        if row is None or (row[0] and row[0] >= iso(edited)):
            return
        self.db.execute(
            "UPDATE mentions SET text = ?, edited_at = ?, classified_at = NULL WHERE key = ?",
            [clean_text(mention.text), iso(edited), mention.key],
        )
        self._reopened.append((mention.key, edited))

    def get_cursor(self, source: str) -> Cursor | None:
        """The cursor saved with the last ingest of `source`."""
        row = self.db.execute("SELECT cursor FROM cursors WHERE source = ?", [source]).fetchone()
        return row[0] if row else None

    # -- classification -------------------------------------------------------------------

    def unclassified_keys(self, limit: int = 100_000) -> list[str]:
        """Keys of stored mentions that still wait for the classifier (oldest first)."""
        rows = self.db.execute(
            "SELECT key FROM mentions WHERE classified_at IS NULL ORDER BY created_at LIMIT ?", [limit]
        ).fetchall()
        return [r[0] for r in rows]

    def get_mentions(self, keys: Sequence[str]) -> list[Mention]:
        """Load mentions by key (missing keys are skipped), in the order asked."""
        if not keys:
            return []
        found: dict[str, Mention] = {}
        for chunk_start in range(0, len(keys), 500):
            chunk = list(keys[chunk_start : chunk_start + 500])
            marks = ",".join("?" for _ in chunk)
            rows = self.db.execute(
                f"""SELECT m.key, m.source, m.external_id, m.text, m.author, m.author_name,
                           m.author_followers, m.url, m.lang, m.in_reply_to, m.conversation_id,
                           m.created_at, (SELECT group_concat(brand, '\x1f') FROM mention_brands b
                                          WHERE b.mention_key = m.key)
                    FROM mentions m WHERE m.key IN ({marks})""",
                chunk,
            ).fetchall()
            for r in rows:
                found[r[0]] = Mention(
                    source=r[1],
                    external_id=r[2],
                    text=r[3],
                    author=r[4],
                    author_name=r[5] or "",
                    author_followers=r[6],
                    url=r[7] or "",
                    lang=r[8],
                    in_reply_to=r[9],
                    conversation_id=r[10],
                    created_at=parse_iso(r[11]) or datetime.now(UTC),
                    brands=tuple(sorted(r[12].split("\x1f"))) if r[12] else (),
                )
        return [found[k] for k in keys if k in found]

    def save_classifications(
        self,
        results: Sequence[tuple[Mention, Classification]],
        now: datetime,
        router: SinkRouter | None = None,
    ) -> list[str]:
        """Store labels, open a clock where a policy covers the mention, queue mention events.

        Returns the keys of the clocks opened.
        """
        opened: list[str] = []
        with self.db.atomic():
            for mention, result in results:
                self.db["classifications"].upsert(
                    {
                        "mention_key": mention.key,
                        "model_id": result.model_id,
                        "scored": int(result.scored),
                        "sentiment": result.sentiment.value if result.sentiment else None,
                        "p_negative": result.p_negative,
                        "p_neutral": result.p_neutral,
                        "p_positive": result.p_positive,
                        "complaint": int(result.complaint),
                        "p_complaint": result.p_complaint,
                        "language": result.language,
                        "unscored_reason": result.unscored_reason,
                        "classified_at": iso(now),
                    },
                    pk="mention_key",
                )
                self.db.execute("UPDATE mentions SET classified_at = ? WHERE key = ?", [iso(now), mention.key])
                brand = _primary_brand(mention.brands, self.competitors)
                if result.scored and brand and self._open_clock(mention, brand, result.complaint, now, router):
                    opened.append(mention.key)
                if router is not None:
                    self._enqueue(
                        Event(
                            id=f"{mention.key}:mention",
                            kind=EventKind.MENTION,
                            brand=brand,
                            thread=mention.key,
                            created_at=now,
                            source=mention.source,
                            mention_key=mention.key,
                            author=mention.author,
                            text=mention.text,
                            url=mention.url,
                            sentiment=result.sentiment.value if result.sentiment else None,
                            p_complaint=result.p_complaint,
                            language=result.language,
                            mention_at=mention.created_at,
                            state="complaint" if result.complaint else "mention",
                            extra={"brands": list(mention.brands), "scored": result.scored},
                        ),
                        router,
                    )
        return opened

    def _facts(self, mention: Mention, brand: str, is_complaint: bool) -> MentionFacts:
        raw = self.db.execute("SELECT raw FROM mentions WHERE key = ?", [mention.key]).fetchone()
        data = json.loads(raw[0]) if raw and raw[0] else {}
        channel = data.get("channel") if data.get("channel") in ("public_mention", "review", "direct_message") else None
        rating = data.get("rating")
        return MentionFacts(
            brand=brand,
            source=mention.source,
            channel=channel or "public_mention",
            author=mention.author,
            followers=mention.author_followers,
            text=mention.text,
            is_complaint=is_complaint,
            rating=rating if isinstance(rating, int) and not isinstance(rating, bool) else None,
        )

    def _open_clock(
        self, mention: Mention, brand: str, is_complaint: bool, now: datetime, router: SinkRouter | None
    ) -> bool:
        case = self._existing_case(mention, brand)
        if case is not None:  # a follow-up belongs to its case: one case, one clock
            self.db.execute("INSERT OR IGNORE INTO case_members VALUES (?, ?)", [mention.key, case])
            self._follow_up(case, mention, now)
            return False
        facts = self._facts(mention, brand, is_complaint)
        deadline = self.engine.deadline(facts, mention.created_at, anchor_key=mention.key)
        if deadline is None:  # no policy covers it: no clock
            return False
        cur = self._insert_clock(mention.key, brand, mention.source, mention.created_at, deadline, is_complaint)
        if cur == 0:
            return False
        self.db.execute("INSERT OR IGNORE INTO case_members VALUES (?, ?)", [mention.key, mention.key])
        self._close_if_answered(mention.key, mention.created_at, now, router)
        return True

    def _insert_clock(
        self, key: str, brand: str, source: str, opened_at: datetime, d: StoredDeadline, is_complaint: bool
    ) -> int:
        row = {
            "mention_key": key,
            "brand": brand,
            "source": source,
            "opened_at": iso(opened_at),
            "warn_at": iso(d.warn_at or d.due),
            "deadline": iso(d.due),
            "state": "open",
            "round": 0,
            "kind": d.kind,
            "policy": d.policy,
            "calendar": d.calendar,
            "explain": d.explain,
            "escalations": d.escalations,
            "reescalate_after": d.reescalate_after,
            "reescalate_to": d.reescalate_to,
            "fired": "[]",
            "next_step_at": iso(d.warn_at or d.due),
            "is_complaint": int(is_complaint),
        }
        cur = self.db.execute(
            "INSERT OR IGNORE INTO complaints ({}) VALUES ({})".format(", ".join(row), ", ".join("?" for _ in row)),
            list(row.values()),
        )
        return cur.rowcount

    def _restart(self, key: str, anchor_at: datetime, kind: TargetKind) -> bool:
        """A new round of an answered clock: the customer wrote again, or edited their review."""
        row = self.db.execute(
            """SELECT c.state, c.closed_at, c.round, c.policy, c.brand, c.source, c.is_complaint, m.author, m.text,
                      m.author_followers FROM complaints c JOIN mentions m ON m.key = c.mention_key
               WHERE c.mention_key = ?""",
            [key],
        ).fetchone()
        if row is None or row[0] == "open" or row[0] == "not_complaint" or (row[1] and row[1] > iso(anchor_at)):
            return False
        facts = MentionFacts(brand=row[4], source=row[5], author=row[7], text=row[8], followers=row[9],
                             is_complaint=bool(row[6]))
        round_ = (row[2] or 0) + 1
        d = self.engine.deadline(facts, anchor_at, kind=kind, anchor_key=f"{key}:r{round_}", policy_name=row[3])
        if d is None:
            return False
        self.db.execute(
            """UPDATE complaints SET state = 'open', opened_at = ?, warn_at = ?, deadline = ?, warned_at = NULL,
                      breached_at = NULL, closed_at = NULL, closed_by = NULL, close_reason = NULL, reply_key = NULL,
                      response_seconds = NULL, business_seconds = NULL, round = ?, kind = ?, explain = ?,
                      escalations = ?, reescalate_after = ?, reescalate_to = ?, fired = '[]', next_step_at = ?,
                      acked_at = NULL, acked_by = NULL, snoozed_until = NULL
               WHERE mention_key = ?""",
            [iso(anchor_at), iso(d.warn_at or d.due), iso(d.due), round_, d.kind, d.explain, d.escalations,
             d.reescalate_after, d.reescalate_to, iso(d.warn_at or d.due), key],
        )
        return True

    def _follow_up(self, case: str, mention: Mention, now: datetime) -> None:
        """The customer wrote again after the brand answered: the next-response clock starts."""
        row = self.db.execute("SELECT state, closed_at FROM complaints WHERE mention_key = ?", [case]).fetchone()
        author = self.db.execute("SELECT author FROM mentions WHERE key = ?", [case]).fetchone()
        if (row and row[0] == "replied" and row[1] and row[1] < iso(mention.created_at)
                and author and author[0] == mention.author):
            self._restart(case, mention.created_at, "next_response")

    def _existing_case(self, mention: Mention, brand: str) -> str | None:
        """The open or recent case this mention continues: its thread, or the author's open complaint."""
        if mention.in_reply_to:
            case = self._case_of(f"{mention.source}:{mention.in_reply_to}")
            if case is not None:
                return case
        if mention.conversation_id:
            found = self.db.execute(
                """SELECT c.mention_key FROM complaints c JOIN mentions m ON m.key = c.mention_key
                   WHERE m.source = ? AND m.conversation_id = ? ORDER BY c.opened_at LIMIT 1""",
                [mention.source, mention.conversation_id],
            ).fetchone()
            if found:
                return str(found[0])
        # The same customer writing again about the same brand within a day: still the same case.
        # CROSS JOIN makes SQLite start from the author's mentions (index on source, author), not from
        # every complaint of the brand in the last day: that was quadratic in a burst of complaints.
        found = self.db.execute(
            """SELECT c.mention_key FROM mentions m CROSS JOIN complaints c ON m.key = c.mention_key
               WHERE c.state IN ('open', 'replied') AND c.brand = ? AND m.source = ? AND m.author = ?
                 AND c.opened_at >= ? AND c.mention_key != ? ORDER BY c.opened_at DESC LIMIT 1""",
            [brand, mention.source, mention.author, iso(mention.created_at - timedelta(days=1)), mention.key],
        ).fetchone()
        return str(found[0]) if found else None

    def _close_if_answered(self, case: str, since: datetime, now: datetime, router: SinkRouter | None) -> None:
        """The brand may have answered before the classifier got to the mention (or before an edit)."""
        reply = self.db.execute(
            """SELECT r.key, r.author, r.created_at FROM replies r
               WHERE r.counts = 1 AND r.created_at >= ? AND (r.mention_key = ? OR r.mention_key IN
                     (SELECT mention_key FROM case_members WHERE case_key = ?))
               ORDER BY r.created_at LIMIT 1""",
            [iso(since), case, case],
        ).fetchone()
        if reply:
            self._close(case, parse_iso(reply[2]) or now, f"reply by {reply[1]}", "replied", reply[0], now, router)

    def _reopen(self, key: str, edited_at: datetime) -> None:
        """An edit after the brand's answer starts a new round of the clock."""
        self._restart(key, edited_at, "first_response")

    # -- replies and acknowledgements -----------------------------------------------------

    def record_replies(self, replies: Sequence[Reply], now: datetime, router: SinkRouter | None = None) -> int:
        """Store brand replies and stop the clocks they answer; return how many clocks stopped."""
        with self.db.atomic():
            return self._record_replies(replies, now, router)

    def _record_replies(self, replies: Sequence[Reply], now: datetime, router: SinkRouter | None) -> int:
        stopped = 0
        for reply in replies:
            key = f"{reply.source}:{reply.external_id}"
            counts = not self._is_bot(reply.source, reply.author)  # an auto-reply is not an answer
            self.db.execute(
                """INSERT OR IGNORE INTO replies (key, mention_key, source, author, created_at, url, text, seen_at,
                                                  counts)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [key, reply.mention_key, reply.source, reply.author, iso(reply.created_at),
                 clean_text(reply.url, limit=2000), clean_text(reply.text), iso(now), int(counts)],
            )
            if not counts:
                continue
            target = self._case_of(reply.mention_key)
            if target is None:
                continue
            opened = self.db.execute("SELECT opened_at FROM complaints WHERE mention_key = ?", [target]).fetchone()
            if opened and iso(reply.created_at) < opened[0]:
                continue  # an answer from before this round (an older message, or before an edit)
            if self._close(target, reply.created_at, f"reply by {reply.author}", "replied", key, now, router):
                stopped += 1
        return stopped

    def _case_of(self, mention_key: str) -> str | None:
        """The complaint a reply to `mention_key` answers: the mention's case, found through
        duplicates (sightings), case membership (follow-ups) and the reply chain."""
        seen = set()
        key: str | None = mention_key
        while key and key not in seen:
            seen.add(key)
            alias = self.db.execute("SELECT mention_key FROM mention_sightings WHERE sighting_key = ?", [key]).fetchone()
            if alias:
                key = alias[0]
            member = self.db.execute("SELECT case_key FROM case_members WHERE mention_key = ?", [key]).fetchone()
            if member:
                return str(member[0])
            row = self.db.execute("SELECT source, in_reply_to FROM mentions WHERE key = ?", [key]).fetchone()
            if row is None:  # a brand reply: continue with the message it answered
                answered = self.db.execute("SELECT mention_key FROM replies WHERE key = ?", [key]).fetchone()
                key = answered[0] if answered else None
                continue
            key = f"{row[0]}:{row[1]}" if row[1] else None
        return None

    def acknowledge(self, mention_key: str, by: str, now: datetime, router: SinkRouter | None = None) -> bool:
        """Stop a complaint's clock by hand (`listener ack`: answered elsewhere); False when no open clock."""
        with self.db.atomic():
            return self._close(mention_key, now, by, "acknowledged", None, now, router)

    def take_action(
        self, mention_key: str, action: str, user: str, now: datetime, router: SinkRouter | None,
        *, request_key: str, snooze: timedelta = timedelta(minutes=30),
    ) -> str:
        """Apply a Slack button (ack, assign, snooze, not_complaint, replied) once per request.

        Returns "done", "duplicate" (this request was applied before) or "closed" (no open clock).
        """
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO actions (request_key, mention_key, action, user, at) VALUES (?, ?, ?, ?, ?)",
                [request_key, mention_key, action, user, iso(now)],
            )
            if cur.rowcount == 0:
                return "duplicate"
            case = self._case_of(mention_key) or mention_key
            row = self.db.execute(
                "SELECT state, brand, round FROM complaints WHERE mention_key = ?", [case]
            ).fetchone()
            if row is None or row[0] != "open":
                return "closed"
            if action == "replied":
                self._close(case, now, user, "marked_replied", None, now, router)
                return "done"
            if action == "not_complaint":
                self.db.execute(
                    """UPDATE complaints SET state = 'not_complaint', closed_at = ?, closed_by = ?,
                              close_reason = 'not_complaint', next_step_at = NULL WHERE mention_key = ?""",
                    [iso(now), user, case],
                )
                text = self.db.execute("SELECT text FROM mentions WHERE key = ?", [case]).fetchone()
                self.db.execute(
                    """INSERT INTO corrections (mention_key, text, sentiment, complaint, "by", created_at)
                       VALUES (?, ?, NULL, 0, ?, ?)""",
                    [case, text[0] if text else "", user, iso(now)],
                )
                state = f"not a complaint (per {user})"
            elif action == "ack":
                self.db.execute(
                    "UPDATE complaints SET acked_at = COALESCE(acked_at, ?), acked_by = COALESCE(acked_by, ?), "
                    "next_step_at = ? WHERE mention_key = ?",
                    [iso(now), user, iso(now), case],  # re-evaluate the ladder now: escalations are skipped
                )
                state = f"acknowledged by {user}"
            elif action == "assign":
                self.db.execute("UPDATE complaints SET assigned_to = ? WHERE mention_key = ?", [user, case])
                state = f"assigned to {user}"
            elif action == "snooze":
                until = now + snooze
                self.db.execute(
                    "UPDATE complaints SET snoozed_until = ? WHERE mention_key = ?", [iso(until), case]
                )
                state = f"snoozed until {until:%H:%M} UTC by {user}"
            else:
                raise ValueError(f"unknown action {action!r}")
            if router is not None and row[1] not in self.competitors:
                self._enqueue(self._clock_event(case, EventKind.ACTION, now, f"{_clock_key(case, row[2])}:"
                                                f"{action}:{request_key}", state=state, detail=user), router)
            return "done"

    def _clock_event(self, key: str, kind: EventKind, now: datetime, event_id: str, **fields: Any) -> Event:
        """An outbox event about a clock, carrying the mention and how its deadline was computed."""
        r = self.db.execute(
            """SELECT c.brand, c.source, c.opened_at, c.deadline, c.explain, c.policy, c.calendar, c.warned_at,
                      c.breached_at, m.author, m.text, m.url, cl.sentiment, cl.p_complaint, cl.language
               FROM complaints c JOIN mentions m ON m.key = c.mention_key
               LEFT JOIN classifications cl ON cl.mention_key = c.mention_key WHERE c.mention_key = ?""",
            [key],
        ).fetchone()
        extra = {"explain": r[4] or "", "policy": r[5], "calendar": r[6], "alerted": bool(r[7] or r[8]),
                 **fields.pop("extra", {})}
        return Event(
            id=event_id, kind=kind, brand=r[0], thread=key, created_at=now, source=r[1], mention_key=key,
            author=r[9], text=r[10], url=r[11] or "", sentiment=r[12], p_complaint=r[13], language=r[14],
            mention_at=parse_iso(r[2]), deadline=parse_iso(r[3]), extra=extra, **fields,
        )

    def _close(
        self,
        mention_key: str,
        at: datetime,
        by: str,
        reason: str,
        reply_key: str | None,
        now: datetime,
        router: SinkRouter | None,
    ) -> bool:
        row = self.db.execute(
            "SELECT opened_at, brand, round, calendar FROM complaints WHERE mention_key = ? AND state = 'open'",
            [mention_key],
        ).fetchone()
        if not row:
            return False
        opened_at = parse_iso(row[0]) or at
        business, wall = self.engine.response_seconds(row[3], opened_at, max(at, opened_at))
        self.db.execute(
            """UPDATE complaints SET state = ?, closed_at = ?, closed_by = ?, close_reason = ?, reply_key = ?,
                      response_seconds = ?, business_seconds = ?, next_step_at = NULL WHERE mention_key = ?""",
            [reason, iso(at), by, reason, reply_key, wall, business, mention_key],
        )
        if router is not None and row[1] not in self.competitors:
            event = self._clock_event(
                mention_key, EventKind.REPLIED, now, _event_id(mention_key, row[2], reason),
                response_seconds=wall, state=reason, detail=by, extra={"business_seconds": business},
            )
            self._enqueue(event, router)
        return True

    # -- the SLA sweep --------------------------------------------------------------------

    def sweep(self, now: datetime, router: SinkRouter) -> list[Event]:
        """Walk every open clock with a step due: fire its ladder steps (warn, breach, escalations)."""
        events: list[Event] = []
        with self.db.atomic():
            rows = self.db.execute(
                """SELECT mention_key, brand, round, opened_at, warn_at, deadline, escalations, acked_at,
                          snoozed_until, fired, reescalate_after, reescalate_to, calendar
                   FROM complaints WHERE state = 'open' AND next_step_at IS NOT NULL AND next_step_at <= ?""",
                [iso(now)],
            ).fetchall()
            for r in rows:
                key = r[0]
                deadline = parse_iso(r[5])
                warn_at = parse_iso(r[4])
                state = ClockState(
                    key=_clock_key(key, r[2]),
                    opened_at=parse_iso(r[3]),  # type: ignore[arg-type]
                    deadline=deadline,  # type: ignore[arg-type]
                    warn_at=warn_at if warn_at and deadline and warn_at < deadline else None,
                    escalations=load_escalations(r[6]),
                    acked_at=parse_iso(r[7]),
                    snoozed_until=parse_iso(r[8]),
                    fired=frozenset(json.loads(r[9] or "[]")),
                    reescalate_after=seconds(r[10]),
                    reescalate_to=tuple(json.loads(r[11] or "[]")),
                )
                decision = evaluate(state, now, self.engine.calendar(r[12]))
                fired = sorted(state.fired | {s.id for s in decision.fire} | {s.id for s in decision.skip})
                kinds = {s.kind for s in decision.fire}
                self.db.execute(
                    """UPDATE complaints SET fired = ?, next_step_at = ?,
                              warned_at = CASE WHEN ? THEN COALESCE(warned_at, ?) ELSE warned_at END,
                              breached_at = CASE WHEN ? THEN COALESCE(breached_at, ?) ELSE breached_at END
                       WHERE mention_key = ?""",
                    [json.dumps(fired), iso(decision.next_at) if decision.next_at else None,
                     int(StepKind.WARN in kinds or StepKind.BREACH in kinds), iso(now),
                     int(StepKind.BREACH in kinds), iso(now), key],
                )
                if r[1] in self.competitors:
                    continue  # tracked for comparison, never alerted
                for step in decision.fire:
                    kind = _STEP_EVENTS[step.kind]
                    extra = {"level": step.level, "to": list(step.to)} if kind is EventKind.ESCALATE else {}
                    event = self._clock_event(key, kind, now, step.id, state=_STEP_STATES[step.kind], extra=extra)
                    if self._enqueue(event, router):
                        events.append(event)
        return events

    def next_due(self) -> datetime | None:
        """The earliest instant at which an open clock has a ladder step to consider."""
        row = self.db.execute(
            "SELECT MIN(next_step_at) FROM complaints WHERE state = 'open' AND next_step_at IS NOT NULL"
        ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    # -- outbox ---------------------------------------------------------------------------

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
             clean_text(json.dumps(event.to_dict(), ensure_ascii=False), limit=10_000_000)],
        )
        if cur.rowcount == 0:
            return False
        seq = cur.lastrowid
        for sink in sinks:
            self.db.execute(
                "INSERT INTO deliveries (event_seq, sink, state, attempts, next_attempt_at) VALUES (?, ?, 'pending', 0, ?)",
                [seq, sink, iso(event.created_at)],
            )
        return True

    def pending_deliveries(self, sink: str, now: datetime, limit: int = 100) -> list[Delivery]:
        """The oldest undelivered events for `sink`, in order, stopping at the first not yet due."""
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
            due.append(Delivery(seq, sink, attempts, _row_to_event(payload)))
        return due

    def next_retry_at(self, sink: str) -> datetime | None:
        """When the oldest pending delivery for `sink` may be tried again."""
        row = self.db.execute(
            "SELECT next_attempt_at FROM deliveries WHERE sink = ? AND state = 'pending' ORDER BY event_seq LIMIT 1",
            [sink],
        ).fetchone()
        return parse_iso(row[0]) if row else None

    def last_ref(self, thread: str, sink: str) -> str | None:
        """What `sink` returned for the latest delivered event of the same thread."""
        row = self.db.execute(
            f"""SELECT d.ref {_THREAD_DELIVERIES}
               WHERE e.thread = ? AND d.state = 'delivered' AND d.ref IS NOT NULL
               ORDER BY d.event_seq DESC LIMIT 1""",
            [sink, thread],
        ).fetchone()
        return row[0] if row else None

    def mark_delivered(self, event_seq: int, sink: str, ref: str | None, now: datetime) -> None:
        """Record a successful delivery (never sent again, even after a restart)."""
        self.db.execute(
            """UPDATE deliveries SET state = 'delivered', ref = ?, delivered_at = ?, attempts = attempts + 1,
                      last_error = NULL WHERE event_seq = ? AND sink = ?""",
            [ref, iso(now), event_seq, sink],
        )

    def mark_failed(self, event_seq: int, sink: str, error: str, retry_at: datetime) -> None:
        """Record a failed attempt; the delivery stays pending until `retry_at`."""
        self.db.execute(
            """UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
               WHERE event_seq = ? AND sink = ?""",
            [error[:500], iso(retry_at), event_seq, sink],
        )

    def mark_suppressed(self, event_seq: int, sink: str, reason: str, now: datetime) -> None:
        """Close a delivery that noise controls suppressed, keeping the reason (never dropped silently)."""
        self.db.execute(
            """UPDATE deliveries SET state = 'suppressed', suppressed = ?, delivered_at = ?
               WHERE event_seq = ? AND sink = ?""",
            [reason[:500], iso(now), event_seq, sink],
        )

    # -- batched delivery (the dispatcher's fast path and noise controls) ------------------

    def claim_deliveries(
        self, sink: str, now: datetime, limit: int = 100, *, mutes: bool = False, held: bool = False,
        history_since: datetime | None = None,
    ) -> Claim:
        """Everything one dispatch pass of `sink` needs, in one call on the store thread.

        The due pending deliveries (as `pending_deliveries`), the last ref of each of their
        threads, and when asked the active mutes, the held deliveries, and what the sink sent
        since `history_since` (for cooldowns and the rate limit).
        """
        items = self.pending_deliveries(sink, now, limit)
        holds: list[HeldDelivery] = []
        history: list[tuple[str, str, str, datetime]] = []
        if held:
            rows = self.db.execute(
                """SELECT d.event_seq, d.attempts, d.held_until, d.suppressed, d.channel, d.rule, d.subject, e.payload
                   FROM deliveries d JOIN events e ON e.seq = d.event_seq
                   WHERE d.sink = ? AND d.state = 'held' ORDER BY d.event_seq""",
                [sink],
            ).fetchall()
            holds = [HeldDelivery(Delivery(r[0], sink, r[1], _row_to_event(r[7])), parse_iso(r[2]) or now,
                                  r[3] or "", r[4] or "", r[5] or "", r[6] or "") for r in rows]
        if history_since is not None:
            history = [
                (r[0] or "", r[1] or "", r[2] or "", parse_iso(r[3]) or now)
                for r in self.db.execute(
                    """SELECT rule, channel, subject, delivered_at FROM deliveries
                       WHERE sink = ? AND delivered_at > ? AND state = 'delivered' AND channel IS NOT NULL""",
                    [sink, iso(history_since)],
                ).fetchall()
            ]
            history += [
                ("digest", r[0] or "", "", parse_iso(r[1]) or now)
                for r in self.db.execute(
                    "SELECT channel, sent_at FROM digests WHERE sink = ? AND sent_at > ?", [sink, iso(history_since)]
                ).fetchall()
            ]
        threads = sorted({d.event.thread for d in items} | {h.delivery.event.thread for h in holds})
        return Claim(items, self.last_refs(threads, sink), self.active_mutes(now) if mutes else {}, holds, history)

    def last_refs(self, threads: Sequence[str], sink: str) -> dict[str, str]:
        """`last_ref` for many threads at once (threads without a ref are left out)."""
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
                [(ref, stamp, m.channel or None, m.rule or None, m.subject or None, seq, sink) for seq, ref, m in outcomes.delivered],
            )
            self.db.conn.executemany(
                """UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
                          held_until = CASE WHEN state = 'held' THEN ? ELSE held_until END
                   WHERE event_seq = ? AND sink = ?""",
                [(error[:500], iso(at), iso(at), seq, sink) for seq, error, at in outcomes.failed],
            )
            self.db.conn.executemany(
                """UPDATE deliveries SET state = 'suppressed', suppressed = ?, delivered_at = ?, channel = ?,
                          rule = ?, subject = ?, held_until = NULL WHERE event_seq = ? AND sink = ?""",
                [(reason[:500], stamp, m.channel or None, m.rule or None, m.subject or None, seq, sink)
                 for seq, reason, m in outcomes.suppressed],
            )
            self.db.conn.executemany(
                """UPDATE deliveries SET state = 'held', suppressed = ?, held_until = ?, channel = ?, rule = ?,
                          subject = ? WHERE event_seq = ? AND sink = ?""",
                [(reason[:500], iso(until), m.channel or None, m.rule or None, m.subject or None, seq, sink)
                 for seq, reason, until, m in outcomes.held],
            )
            for digest in outcomes.digests:
                self.db.execute(
                    """INSERT OR REPLACE INTO digests (id, sink, channel, sent_at, size, reasons, ref)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [digest.id, sink, digest.channel, stamp, len(digest.members), ",".join(digest.reasons), digest.ref],
                )
                # Each alert keeps the reason it was held for; `digest` says which message carried it.
                self.db.conn.executemany(
                    """UPDATE deliveries SET state = 'digested', digest = ?, delivered_at = ?, channel = ?, rule = ?,
                              subject = ?, held_until = NULL, attempts = attempts + 1, last_error = NULL,
                              suppressed = COALESCE(?, suppressed) WHERE event_seq = ? AND sink = ?""",
                    [(digest.id, stamp, m.channel or None, m.rule or None, m.subject or None, reason, seq, sink)
                     for seq, reason, m in digest.members],
                )

    # -- mutes (`listener mute`) ------------------------------------------------------------

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

    def active_mutes(self, now: datetime) -> dict[tuple[str, str], datetime]:
        """(scope, name) -> expiry of every mute still in force at `now`."""
        rows = self.db.execute("SELECT scope, name, until FROM mutes WHERE until > ?", [iso(now)]).fetchall()
        return {(r[0], r[1]): parse_iso(r[2]) for r in rows}  # type: ignore[misc]

    # -- alert statistics (`listener alerts stats`) ------------------------------------------

    def alert_stats(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per alert kind: fired, acted on, replied (in target / at all) after it, suppressed (dropped, held, digested)."""
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

    # -- health and heartbeats ------------------------------------------------------------

    def save_health(self, source: str, **fields: Any) -> None:
        """Upsert a connector's health row."""
        self.db["source_health"].upsert({"source": source, **fields}, pk="source")

    def health(self) -> list[dict[str, Any]]:
        """Every connector's health row."""
        return list(self.db["source_health"].rows)

    def source_activity(self, source: str, now: datetime) -> dict[str, Any]:
        """Latest mention time and mention counts over the last 24 hours and 7 days."""
        row = self.db.execute(
            """SELECT MAX(created_at),
                      SUM(created_at >= :day), SUM(created_at >= :week)
               FROM mentions WHERE source = :source AND created_at >= :week""",
            {"source": source, "day": iso(now - timedelta(days=1)), "week": iso(now - timedelta(days=7))},
        ).fetchone()
        last = row[0] if row and row[0] else None
        if last is None:
            found = self.db.execute("SELECT MAX(created_at) FROM mentions WHERE source = ?", [source]).fetchone()
            last = found[0] if found else None
        return {"last_mention_at": parse_iso(last), "last_24h": (row[1] or 0) if row else 0,
                "last_7d": (row[2] or 0) if row else 0}

    def health_row(self, source: str) -> dict[str, Any] | None:
        """One connector's health row."""
        rows = list(self.db.query("SELECT * FROM source_health WHERE source = ?", [source]))
        return rows[0] if rows else None

    def beat(self, stage: str, now: datetime) -> None:
        """Record that a stage made progress."""
        self.db.execute(
            "INSERT INTO heartbeats (stage, at) VALUES (?, ?) ON CONFLICT(stage) DO UPDATE SET at = excluded.at",
            [stage, iso(now)],
        )

    def heartbeats(self) -> dict[str, datetime]:
        """Last progress time per stage."""
        return {s: parse_iso(a) for s, a in self.db.execute("SELECT stage, at FROM heartbeats")}  # type: ignore[misc]

    # -- queries for the CLI and the demo -------------------------------------------------

    def complaints(self, *, open_only: bool = False, limit: int = 1000) -> list[Complaint]:
        """Complaints, newest first; open ones most urgent first (overdue first, then by deadline)."""
        where = "WHERE c.state = 'open'" if open_only else ""
        order = "c.deadline ASC, c.opened_at ASC" if open_only else "c.opened_at DESC"
        rows = self.db.execute(
            f"""SELECT c.mention_key, c.brand, c.source, c.opened_at, c.warn_at, c.deadline, c.state,
                       c.warned_at, c.breached_at, c.closed_at, c.closed_by, c.close_reason,
                       c.response_seconds, m.author, m.text, m.url
                FROM complaints c JOIN mentions m ON m.key = c.mention_key {where}
                ORDER BY {order} LIMIT ?""",
            [limit],
        ).fetchall()
        return [
            Complaint(
                r[0], r[1], r[2], parse_iso(r[3]), parse_iso(r[4]), parse_iso(r[5]), r[6],  # type: ignore[arg-type]
                parse_iso(r[7]), parse_iso(r[8]), parse_iso(r[9]), r[10], r[11], r[12], r[13], r[14], r[15] or "",
            )
            for r in rows
        ]

    def open_complaint_mentions(self, source: str, limit: int = 200) -> list[Mention]:
        """Mentions of `source` whose clock is still running (to look for brand replies)."""
        keys = [
            r[0]
            for r in self.db.execute(
                "SELECT mention_key FROM complaints WHERE source = ? AND state = 'open' ORDER BY deadline LIMIT ?",
                [source, limit],
            )
        ]
        return self.get_mentions(keys)

    def recent_mentions(self, limit: int = 10) -> list[dict[str, Any]]:
        """Latest classified mentions with their labels (for live views)."""
        return list(
            self.db.query(
                """SELECT m.key, m.source, m.author, m.text, m.created_at, c.sentiment, c.complaint,
                          c.scored, c.unscored_reason, c.language
                   FROM mentions m JOIN classifications c ON c.mention_key = m.key
                   ORDER BY m.created_at DESC LIMIT ?""",
                [limit],
            )
        )

    def recent_events(self, limit: int = 10, *, include_mentions: bool = False) -> list[dict[str, Any]]:
        """Latest outbox events with how many sinks already have them."""
        where = "" if include_mentions else "WHERE e.kind != 'mention'"
        return list(
            self.db.query(
                f"""SELECT e.id, e.kind, e.brand, e.created_at, e.payload,
                           SUM(d.state = 'delivered') AS delivered, COUNT(d.sink) AS sinks
                    FROM events e LEFT JOIN deliveries d ON d.event_seq = e.seq {where}
                    GROUP BY e.seq ORDER BY e.seq DESC LIMIT ?""",
                [limit],
            )
        )

    def mention_exists(self, key: str) -> bool:
        """Whether a mention with this key is stored."""
        return self.db.execute("SELECT 1 FROM mentions WHERE key = ?", [key]).fetchone() is not None

    def counts(self) -> dict[str, int]:
        """Headline counts: mentions, classified, complaints, open, breached."""
        q = self.db.execute
        return {
            "mentions": q("SELECT COUNT(*) FROM mentions").fetchone()[0],
            "classified": q("SELECT COUNT(*) FROM mentions WHERE classified_at IS NOT NULL").fetchone()[0],
            "complaints": q("SELECT COUNT(*) FROM complaints").fetchone()[0],
            "open": q("SELECT COUNT(*) FROM complaints WHERE state = 'open'").fetchone()[0],
            "breached": q("SELECT COUNT(*) FROM complaints WHERE breached_at IS NOT NULL").fetchone()[0],
        }

    def response_summary(self, brand: str | None = None) -> dict[str, Any]:
        """Complaints, answered within target, median and p90 response time, breaches."""
        params: list[Any] = []
        where = ""
        if brand:
            where, params = "WHERE brand = ?", [brand]
        rows = self.db.execute(
            f"SELECT state, response_seconds, deadline, closed_at, breached_at FROM complaints {where}", params
        ).fetchall()
        times = sorted(r[1] for r in rows if r[1] is not None and r[0] == "replied")
        within = sum(1 for r in rows if r[0] == "replied" and r[3] is not None and r[3] <= r[2])
        return {
            "complaints": len(rows),
            "replied": len(times),
            "within_target": within,
            "breaches": sum(1 for r in rows if r[4] is not None),
            "open": sum(1 for r in rows if r[0] == "open"),
            "median_response_s": _percentile(times, 50),
            "p90_response_s": _percentile(times, 90),
        }


    # -- listening alerts (listener/listening.py) -----------------------------------------

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
        alerts: Sequence[RuleAlert],
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
            for alert in sorted(alerts, key=lambda a: (a.at, a.event.id)):
                event_id = alert.event.id
                if (self.db.execute("SELECT 1 FROM events WHERE id = ?", [event_id]).fetchone()
                        or self.db.execute("SELECT 1 FROM alert_skips WHERE event_id = ?", [event_id]).fetchone()):
                    outcome.duplicates += 1
                    continue
                row = self.db.execute(
                    "SELECT last_at FROM alert_cooldowns WHERE rule = ? AND subject = ?", [alert.rule, alert.subject]
                ).fetchone()
                last_at = parse_iso(row[0]) if row else None
                wait = cooldown(alert.rule)
                if last_at is not None and wait > timedelta(0) and abs(alert.at - last_at) < wait:
                    self.db.execute(
                        "INSERT OR IGNORE INTO alert_skips (event_id, rule, subject, at) VALUES (?, ?, ?, ?)",
                        [event_id, alert.rule, alert.subject, iso(alert.at)],
                    )
                    outcome.held_back.append(alert)
                    continue
                held = self.db.execute(
                    "SELECT COUNT(*) FROM alert_skips WHERE rule = ? AND subject = ? AND at >= ?",
                    [alert.rule, alert.subject, iso(last_at) if last_at else ""],
                ).fetchone()[0]
                event = _with_held_back(alert.event, held) if held else alert.event
                if not self._enqueue(event, router):
                    outcome.unrouted += 1  # no sink wants this kind: nothing sent, no cooldown started
                    continue
                latest = max(alert.at, last_at) if last_at else alert.at
                self.db.execute(
                    """INSERT INTO alert_cooldowns (rule, subject, last_at, event_id) VALUES (?, ?, ?, ?)
                       ON CONFLICT(rule, subject) DO UPDATE SET last_at = excluded.last_at,
                                                                event_id = excluded.event_id""",
                    [alert.rule, alert.subject, iso(latest), event_id],
                )
                outcome.sent.append(event)
            if cursor is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO listening_state (name, value) VALUES ('mentions', ?)",
                    [json.dumps({"rowid": cursor[0], "key": cursor[1]})],
                )
        return outcome


def hour_key(value: datetime) -> str:
    """The rollups' hour bucket of an instant: "2026-01-05T09" (UTC)."""
    return require_utc(value, "hour").strftime("%Y-%m-%dT%H")


def parse_hour(value: str) -> datetime | None:
    """Inverse of `hour_key`; None for text that is not an hour bucket."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


# -- the rollup reads of the listening job, shared with `listener backtest` ------------------
# Module-level so the backtest runs the very same SQL on its own read-only connection.

HOURLY_BRAND_COUNTS_SQL = (
    # Grouped in primary-key order (hour first), so SQLite needs no sort.
    """SELECT brand, source, hour, SUM(mentions), SUM(scored), SUM(negative) FROM trend_brand_hourly
       WHERE hour >= ? AND hour <= ? GROUP BY hour, brand, source"""
)
SERIES_FIRST_HOUR_SQL = "SELECT MIN(hour) FROM trend_brand_hourly WHERE brand = ? AND source = ?"
# Every series at once (the (brand, source, hour) index serves the grouping): the backtest's bulk form.
SERIES_FIRST_HOURS_SQL = "SELECT brand, source, MIN(hour) FROM trend_brand_hourly GROUP BY brand, source"


class Executes(Protocol):
    """A connection that runs SQL: `sqlite3.Connection` or `sqlite_utils.Database`."""

    def execute(self, sql: str, parameters: Sequence[Any], /) -> sqlite3.Cursor:
        """Run one statement with positional parameters."""
        ...


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


@dataclass(frozen=True, slots=True)
class HourlyCount:
    """One brand/source/hour bucket of the rollup: classified mentions, scored ones, negative ones."""

    brand: str
    source: str
    hour: datetime
    mentions: int
    scored: int
    negative: int


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


@dataclass(frozen=True, slots=True)
class RuleAlert:
    """A listening alert to queue: the event, and the rule, subject and time its cooldown is kept by."""

    rule: str
    subject: str
    at: datetime
    event: Event


@dataclass(slots=True)
class ListeningOutcome:
    """What `fire_listening_alerts` did: queued, already queued before, held back by a cooldown, unrouted."""

    sent: list[Event] = field(default_factory=list)
    duplicates: int = 0
    held_back: list[RuleAlert] = field(default_factory=list)
    unrouted: int = 0


def _with_held_back(event: Event, count: int) -> Event:
    """Say in the alert how many alerts of its rule and subject the cooldown held back since the last one."""
    note = f"{count} more held back by the cooldown since the last alert"
    return dataclasses.replace(
        event, state=f"{event.state}; {note}" if event.state else note, extra={**event.extra, "held_back": count}
    )


def edited_at(mention: Mention) -> datetime | None:
    """The mention's last edit: the field, or `raw["edited_at"]` as review connectors give it."""
    if mention.edited_at is not None:
        return mention.edited_at
    value = mention.raw.get("edited_at") if mention.raw else None
    if not value:
        return None
    try:
        return to_utc(value)
    except ValueError:
        return None


_STEP_EVENTS = {
    StepKind.WARN: EventKind.WARN,
    StepKind.BREACH: EventKind.BREACH,
    StepKind.ESCALATE: EventKind.ESCALATE,
    StepKind.REESCALATE: EventKind.ESCALATE,
}
_STEP_STATES = {StepKind.WARN: "warn", StepKind.BREACH: "breach", StepKind.ESCALATE: "escalated",
                StepKind.REESCALATE: "escalated again"}


def _clock_key(mention_key: str, round_: int | None) -> str:
    """The ladder's key for a clock round: step ids are "<key>:warn", "<key>:r1:breach", ..."""
    return f"{mention_key}:r{round_}" if round_ else mention_key


def _event_id(mention_key: str, round_: int | None, what: str) -> str:
    """Stable alert id; a clock reopened by an edit counts rounds so its alerts are new events."""
    return f"{mention_key}:{what}" if not round_ else f"{mention_key}:r{round_}:{what}"


def _percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    rank = (len(values) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def _primary_brand(brands: Iterable[str], competitors: frozenset[str]) -> str:
    ordered = sorted(brands, key=lambda b: (b in competitors, b))
    return ordered[0] if ordered else ""


class Store:
    """Async facade: runs every `SyncStore` call on one dedicated thread, off the event loop."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._sync: SyncStore | None = None

    async def open(self) -> Store:
        """Open the database and apply migrations (on the store thread)."""
        self._sync = await self._call(SyncStore, self.path)
        return self

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        if self._sync is not None:
            await self._call(self._sync.close)
            self._sync = None
        self._executor.shutdown(wait=True)

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(sync_store, *args)` on the store thread (for helpers kept outside this module)."""
        if self._sync is None:
            raise RuntimeError("store is not open")
        return await self._call(fn, self._sync, *args)

    async def run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `SyncStore.<method>` on the store thread."""
        if self._sync is None:
            raise RuntimeError("store is not open")
        return await self._call(getattr(self._sync, method), *args, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or not hasattr(SyncStore, name):
            raise AttributeError(name)
        return functools.partial(self.run, name)
