"""The store's connection: one SQLite database (sqlite-utils, WAL) used from one thread, its time format, settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlite_utils

from listener.events import Event
from listener.identity import same_account
from listener.migrations import enable_wal, migrations

# The kernel's timestamp format, re-exported: the store modules import it from here.
from listener.timefmt import iso as iso
from listener.timefmt import parse_iso as parse_iso

if TYPE_CHECKING:
    from listener.sla.casefile import (
        CaseHistory,
        CaseMessage,
        CaseRules,
        ClockState,
        Decision,
        LadderDecision,
        Link,
        StoredCase,
    )

SinkRouter = Callable[[Event], list[str]]


class Executes(Protocol):
    """A connection that runs SQL: `sqlite3.Connection` or `sqlite_utils.Database`."""

    def execute(self, sql: str, parameters: Sequence[Any], /) -> sqlite3.Cursor:
        """Run one statement with positional parameters."""
        ...


def _primary_brand(brands: Iterable[str], competitors: frozenset[str]) -> str:
    ordered = sorted(brands, key=lambda b: (b in competitors, b))
    return ordered[0] if ordered else ""


class CaseEngine(Protocol):
    """What decides about cases and clocks (listener.clocks.ClockEngine); the store only executes it."""

    rules: CaseRules

    def decide(self, history: CaseHistory, stored: StoredCase | None, now: datetime) -> Decision:
        """What a case's history makes of its stored clock."""
        ...

    def joins(self, message: CaseMessage, link: Link, case_brand: str, case_at: datetime) -> bool:
        """Whether a message joins a case it is linked to."""
        ...

    def ladder_step(self, state: ClockState, now: datetime, calendar: str | None) -> LadderDecision:
        """The ladder steps of a running clock due at `now`."""
        ...

    def response_seconds(self, calendar: str | None, start: datetime, end: datetime) -> tuple[float, float]:
        """(business, wall-clock) seconds between a message and its answer."""
        ...


def default_engine() -> CaseEngine:
    """The default policy (every complaint, 60 minutes) for stores nobody gave an engine (tools, tests)."""
    from listener.clocks import ClockEngine  # the decision code stays out of the store's imports
    from listener.sla.policy import default_policy

    return ClockEngine([default_policy()], {})


class StoreBase:
    """The connection, and what the store is told once: the case engine, bots and competitor brands."""

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
        self.engine: CaseEngine = default_engine()
        self._reopened: list[tuple[str, datetime]] = []

    def set_engine(self, engine: CaseEngine) -> None:
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
