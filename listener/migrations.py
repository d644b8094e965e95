"""Versioned schema migrations (sqlite-utils `Migrations`), applied at start-up by one process at a time.

Checking whether anything is pending needs only the standard library: commands that read (`listener query`,
the reports) start without importing sqlite-utils, which loads numpy.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from listener.corrections import ensure_table as ensure_corrections

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

Step = Callable[["Database"], None]


class LockedMigrations:
    """Migrations with one owner: the daemon, a CLI command and a report may start at the same moment.

    The applied versions are checked first without writing (the usual case: nothing to do). Pending
    ones are applied inside one `BEGIN IMMEDIATE` transaction: the database's write lock makes every
    other process wait (its busy timeout) and then find them applied, instead of racing to create
    the same tables ("database is locked", "UNIQUE constraint failed: _sqlite_migrations").
    Steps are registered here and handed to sqlite-utils' `Migrations` only when one is applied.
    """

    # sqlite-utils' bookkeeping table (`Migrations.migrations_table`), read here without sqlite-utils.
    TABLE = "_sqlite_migrations"

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps: list[Step] = []
        self._set: Migrations | None = None

    def __call__(self) -> Callable[[Step], Step]:
        """Decorator: register a migration step, named after its function; steps run in this order."""

        def register(step: Step) -> Step:
            if any(s.__name__ == step.__name__ for s in self.steps):
                raise ValueError(f"migration {step.__name__!r} is registered twice")
            self.steps.append(step)
            self._set = None
            return step

        return register

    @property
    def names(self) -> list[str]:
        """Every step's name, in the order they apply."""
        return [step.__name__ for step in self.steps]

    def sqlite_utils_set(self) -> Migrations:
        """The sqlite-utils migration set holding every registered step."""
        if self._set is None:
            from sqlite_utils import Migrations

            built = Migrations(self.name)
            for step in self.steps:
                built()(step)
            self._set = built
        return self._set

    def pending(self, db: Database) -> list[str]:
        """Names of the steps not yet applied to `db` (read-only)."""
        return [m.name for m in self.sqlite_utils_set().pending(db)]

    def pending_in(self, conn: sqlite3.Connection) -> list[str]:
        """`pending`, read with the standard library only (the same table and rows sqlite-utils reads)."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.TABLE,)).fetchone():
            rows = conn.execute(f"SELECT name FROM {self.TABLE} WHERE migration_set = ?", (self.name,))
            applied = {name for (name,) in rows}
        else:
            applied = set()
        return [name for name in self.names if name not in applied]

    def apply(self, db: Database, *, stop_before: str | Iterable[str] | None = None) -> None:
        """Apply the pending migrations, all or none, under the database's write lock."""
        if not self.pending(db):
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            # Checked again under the lock: another process may have applied them while we waited.
            # Each migration's own atomic() becomes a savepoint of this transaction.
            self.sqlite_utils_set().apply(db, stop_before=stop_before)
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise


migrations = LockedMigrations("listener")


def pending_names(path: Path | str) -> list[str]:
    """Names of the migrations not yet applied to the database at `path`, read without writing."""
    conn = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True, timeout=30)
    try:
        return migrations.pending_in(conn)
    finally:
        conn.close()


def enable_wal(db: Database, timeout: float = 30.0) -> None:
    """Switch the database to WAL mode, waiting for other writers (a no-op read once it is WAL).

    SQLite answers the switch with "database is locked" at once, without its busy timeout, while
    another connection writes: retry until `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(path: Path | str) -> None:
    """Bring the database at `path` up to date (for commands that only read it), waiting for any other owner."""
    from sqlite_utils import Database

    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        db = Database(conn)
        enable_wal(db)  # first, as the daemon's store does: the migration then runs in WAL mode like every write
        migrations.apply(db)
    finally:
        conn.close()


@migrations()
def m001_initial(db: Database) -> None:
    """Mentions, classifications, complaint clocks, replies, outbox, cursors and health."""
    db.table("mentions").create(
        {
            "key": str,
            "source": str,
            "external_id": str,
            "text": str,
            "author": str,
            "author_name": str,
            "author_followers": int,
            "url": str,
            "lang": str,
            "in_reply_to": str,
            "conversation_id": str,
            "created_at": str,
            "fetched_at": str,
            "classified_at": str,
            "raw": str,
        },
        pk="key",
        not_null={"source", "external_id", "text", "author", "created_at", "fetched_at"},
    )
    db.table("mentions").create_index(["created_at"])
    db.table("mentions").create_index(["classified_at"])
    db.table("mentions").create_index(["source", "in_reply_to"])
    db.table("mention_brands").create({"mention_key": str, "brand": str}, pk=("mention_key", "brand"))
    db.table("mention_brands").create_index(["brand"])
    db.table("authors").create(
        {"source": str, "handle": str, "name": str, "followers": int, "first_seen": str, "last_seen": str},
        pk=("source", "handle"),
    )
    db.table("classifications").create(
        {
            "mention_key": str,
            "model_id": str,
            "scored": int,
            "sentiment": str,
            "p_negative": float,
            "p_neutral": float,
            "p_positive": float,
            "complaint": int,
            "p_complaint": float,
            "language": str,
            "unscored_reason": str,
            "classified_at": str,
        },
        pk="mention_key",
    )
    db.table("complaints").create(
        {
            "mention_key": str,
            "brand": str,
            "source": str,
            "opened_at": str,
            "warn_at": str,
            "deadline": str,
            "state": str,
            "warned_at": str,
            "breached_at": str,
            "closed_at": str,
            "closed_by": str,
            "close_reason": str,
            "reply_key": str,
            "response_seconds": float,
        },
        pk="mention_key",
    )
    db.table("complaints").create_index(["state", "deadline"])
    db.table("complaints").create_index(["brand", "opened_at"])
    db.table("replies").create(
        {
            "key": str,
            "mention_key": str,
            "source": str,
            "author": str,
            "created_at": str,
            "url": str,
            "text": str,
            "seen_at": str,
        },
        pk="key",
    )
    db.table("replies").create_index(["mention_key"])
    db.table("events").create(
        {"seq": int, "id": str, "kind": str, "brand": str, "thread": str, "created_at": str, "payload": str},
        pk="seq",
    )
    db.table("events").create_index(["id"], unique=True)
    db.table("events").create_index(["thread"])
    db.table("deliveries").create(
        {
            "event_seq": int,
            "sink": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "ref": str,
            "delivered_at": str,
        },
        pk=("event_seq", "sink"),
    )
    db.table("deliveries").create_index(["state", "sink", "event_seq"])
    db.table("cursors").create({"source": str, "cursor": str, "updated_at": str}, pk="source")
    db.table("source_health").create(
        {
            "source": str,
            "state": str,
            "last_success": str,
            "last_error": str,
            "last_error_at": str,
            "consecutive_failures": int,
            "retry_at": str,
            "polls": int,
            "mentions_total": int,
        },
        pk="source",
    )
    db.table("heartbeats").create({"stage": str, "at": str}, pk="stage")
    ensure_corrections(db)


@migrations()
def m002_analytics_rollups_and_views(db: Database) -> None:
    """Hourly trend rollups (kept current by triggers), complaint indexes and the analyst views."""
    from listener.analytics.schema_sql import CREATE_ROLLUPS, CREATE_TRIGGERS, CREATE_VIEWS, REBUILD_ROLLUPS

    for statement in CREATE_ROLLUPS + CREATE_TRIGGERS + REBUILD_ROLLUPS + CREATE_VIEWS:
        db.execute(statement)


@migrations()
def m003_source_health(db: Database) -> None:
    """Outage bookkeeping for source-health alerts, and per-source recency lookups."""
    health = db.table("source_health")
    for column, kind in (("first_failure_at", str), ("rate_limited_until", str), ("last_mention_at", str),
                         ("down_since_success", str)):
        if column not in health.columns_dict:
            health.add_column(column, kind)
    db.table("mentions").create_index(["source", "created_at"], if_not_exists=True)


@migrations()
def m004_dedupe_and_cases(db: Database) -> None:
    """Sightings and reach (boosts, cross-posts, one post seen by two sources), case threads, edits."""
    mentions = db.table("mentions")
    for column, kind in (("reach", int), ("canonical_url", str), ("fingerprint", str), ("edited_at", str)):
        if column not in mentions.columns_dict:
            mentions.add_column(column, kind)
    db.execute("UPDATE mentions SET reach = 1 WHERE reach IS NULL")
    mentions.create_index(["canonical_url"], if_not_exists=True)
    mentions.create_index(["fingerprint"], if_not_exists=True)
    db.table("mention_sightings").create(
        {"sighting_key": str, "mention_key": str, "source": str, "seen_at": str}, pk="sighting_key", if_not_exists=True
    )
    db.table("mention_sightings").create_index(["mention_key"], if_not_exists=True)
    db.execute(
        "INSERT OR IGNORE INTO mention_sightings (sighting_key, mention_key, source, seen_at) "
        "SELECT key, key, source, fetched_at FROM mentions"
    )
    # Every mention that belongs to a complaint's case (the complaint itself and its follow-ups).
    db.table("case_members").create({"mention_key": str, "case_key": str}, pk="mention_key", if_not_exists=True)
    db.table("case_members").create_index(["case_key"], if_not_exists=True)
    db.execute("INSERT OR IGNORE INTO case_members SELECT mention_key, mention_key FROM complaints")
    complaints = db.table("complaints")
    for column, kind in (("round", int), ("reply_counted", int)):
        if column not in complaints.columns_dict:
            complaints.add_column(column, kind)
    db.execute("UPDATE complaints SET round = 0 WHERE round IS NULL")
    replies = db.table("replies")
    if "counts" not in replies.columns_dict:
        replies.add_column("counts", int)
    db.execute("UPDATE replies SET counts = 1 WHERE counts IS NULL")


@migrations()
def m005_policy_clocks(db: Database) -> None:
    """Clocks computed by policies and calendars, the escalation ladder's state, Slack actions."""
    complaints = db.table("complaints")
    for column, kind in (
        ("kind", str), ("policy", str), ("calendar", str), ("explain", str), ("escalations", str),
        ("reescalate_after", float), ("reescalate_to", str), ("fired", str), ("next_step_at", str),
        ("acked_at", str), ("acked_by", str), ("snoozed_until", str), ("assigned_to", str),
        ("is_complaint", int), ("business_seconds", float),
    ):
        if column not in complaints.columns_dict:
            complaints.add_column(column, kind)
    db.execute("UPDATE complaints SET kind = 'first_response' WHERE kind IS NULL")
    db.execute("UPDATE complaints SET is_complaint = 1 WHERE is_complaint IS NULL")
    db.execute("UPDATE complaints SET policy = 'default' WHERE policy IS NULL")
    db.execute(
        """UPDATE complaints SET next_step_at = CASE
             WHEN warned_at IS NULL AND warn_at < deadline THEN warn_at
             WHEN breached_at IS NULL THEN deadline END
           WHERE state = 'open' AND next_step_at IS NULL"""
    )
    complaints.create_index(["state", "next_step_at"], if_not_exists=True)
    db.table("actions").create(
        {"id": int, "request_key": str, "mention_key": str, "action": str, "user": str, "at": str},
        pk="id", if_not_exists=True,
    )
    db.table("actions").create_index(["request_key"], unique=True, if_not_exists=True)
    db.table("actions").create_index(["mention_key"], if_not_exists=True)


@migrations()
def m007_sla_mutes_and_suppressions(db: Database) -> None:
    """Stored mutes (source or brand, with expiry) and the reason a delivery was suppressed."""
    db.table("mutes").create(
        {"scope": str, "name": str, "until": str, "by": str, "created_at": str},
        pk=("scope", "name"), if_not_exists=True,
    )
    deliveries = db.table("deliveries")
    if "suppressed" not in deliveries.columns_dict:
        deliveries.add_column("suppressed", str)
    # Finding a customer's open case looked at every complaint of the brand from the last day:
    # quadratic when thousands of complaints arrive at once. These let SQLite start from the author.
    db.table("mentions").create_index(["source", "author"], if_not_exists=True)
    db.table("mentions").create_index(["source", "conversation_id"], if_not_exists=True)


@migrations()
def m006_analytics_business_time(db: Database) -> None:
    """Analyst view v_complaints with business time, policy and assignee; SLA index covering them."""
    from listener.analytics.schema_sql import BUSINESS_TIME_INDEX, BUSINESS_TIME_VIEWS

    for statement in BUSINESS_TIME_INDEX + BUSINESS_TIME_VIEWS:
        db.execute(statement)


@migrations()
def m008_delivery_noise(db: Database) -> None:
    """Noise controls in delivery: each delivery's channel, rule and subject, holds, and the digests sent."""
    deliveries = db.table("deliveries")
    for column in ("channel", "rule", "subject", "held_until", "digest"):
        if column not in deliveries.columns_dict:
            deliveries.add_column(column, str)
    # Cooldowns and the per-channel rate look back over what a sink delivered recently.
    deliveries.create_index(["sink", "delivered_at"], if_not_exists=True)
    deliveries.create_index(["sink", "state", "held_until"], if_not_exists=True)
    db.table("digests").create(
        {"id": str, "sink": str, "channel": str, "sent_at": str, "size": int, "reasons": str, "ref": str},
        pk=("id", "sink"), if_not_exists=True,
    )
    db.table("digests").create_index(["sink", "sent_at"], if_not_exists=True)


@migrations()
def m009_listening_alerts(db: Database) -> None:
    """Listening alerts: the job's cursor, per-rule cooldowns, and a series index on the brand rollup."""
    db.table("listening_state").create({"name": str, "value": str}, pk="name", if_not_exists=True)
    db.table("alert_cooldowns").create(
        {"rule": str, "subject": str, "last_at": str, "event_id": str}, pk=("rule", "subject"), if_not_exists=True
    )
    # Alerts held back by a cooldown, once each (by event id): the next alert says how many.
    db.table("alert_skips").create(
        {"event_id": str, "rule": str, "subject": str, "at": str}, pk="event_id", if_not_exists=True
    )
    db.table("alert_skips").create_index(["rule", "subject", "at"], if_not_exists=True)
    # The first hour of a brand/source series (how long its baseline really is) in one index seek.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_trend_brand_series ON trend_brand_hourly (brand, source, hour)"
    )


@migrations()
def m010_job_faults(db: Database) -> None:
    """The daemon's jobs that are failing now (a full disk, a bug), for `listener health`."""
    db.table("job_faults").create({"job": str, "since": str, "error": str, "store": int}, pk="job", if_not_exists=True)


@migrations()
def m015_case_engine(db: Database) -> None:
    """The case engine: a snooze's end, each round's message, and a review's rating and channel as columns."""
    for table, column, kind in (("actions", "until", str), ("complaints", "anchor_key", str),
                                ("mentions", "channel", str), ("mentions", "rating", int)):
        if column not in db.table(table).columns_dict:
            db.table(table).add_column(column, kind)
    # Older rows kept the review facts in the raw payload only.
    db.execute(
        """UPDATE mentions SET
             channel = CASE WHEN json_extract(raw, '$.channel') IN ('public_mention', 'review', 'direct_message')
                            THEN json_extract(raw, '$.channel') END,
             rating = CASE WHEN json_type(raw, '$.rating') = 'integer' THEN json_extract(raw, '$.rating') END
           WHERE raw IS NOT NULL AND json_valid(raw) AND channel IS NULL AND rating IS NULL"""
    )


@migrations()
def m019_web_actions(db: Database) -> None:
    """Actions from the web queue: whom an `assign` named and where the action came from (slack, web)."""
    for column in ("assignee", "via"):
        if column not in db.table("actions").columns_dict:
            db.table("actions").add_column(column, str)


@migrations()
def m020_unsure(db: Database) -> None:
    """The model's "unsure" mark on each classification, and on each clock until a person confirms it."""
    for table in ("classifications", "complaints"):
        if "unsure" not in db.table(table).columns_dict:
            db.table(table).add_column("unsure", int, not_null_default=0)
    from listener.analytics.schema_sql import UNSURE_INDEX, UNSURE_VIEWS

    for statement in UNSURE_INDEX + UNSURE_VIEWS:
        db.execute(statement)
    # The web queue's review list: unsure judgements nobody has looked at yet, by when they were judged.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_classifications_unsure ON classifications (classified_at) WHERE unsure = 1"
    )
