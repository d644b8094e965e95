"""The hourly rollups stay equal to a fresh rebuild, and trends read from them equal raw counts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener.analytics.db import connect_readonly
from listener.analytics.filters import Filters
from listener.analytics.schema_sql import REBUILD_ROLLUPS
from listener.analytics.trends import trends
from listener.domain import Mention, Sentiment
from listener.store import SyncStore
from models.base import Classification
from tests.analytics.seed import START, Seeded, save_labels

TABLES = ("trend_hourly", "trend_brand_hourly")


def _snapshot(conn: sqlite3.Connection) -> dict[str, set[tuple[object, ...]]]:
    return {t: {r for r in conn.execute(f"SELECT * FROM {t} WHERE mentions != 0")} for t in TABLES}


def _rebuilt(conn: sqlite3.Connection) -> dict[str, set[tuple[object, ...]]]:
    """What the rollups should hold, recomputed from the raw tables inside a rolled-back transaction."""
    conn.execute("BEGIN")
    try:
        for statement in REBUILD_ROLLUPS:
            conn.execute(statement)
        return _snapshot(conn)
    finally:
        conn.execute("ROLLBACK")


def _label(sentiment: Sentiment | None, complaint: bool = False, language: str | None = "en") -> Classification:
    return Classification(
        model_id="t", scored=sentiment is not None, sentiment=sentiment, complaint=complaint, language=language
    )


def test_seeded_rollups_match_a_rebuild(seeded: Seeded, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    with sqlite3.connect(seeded.path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    conn = sqlite3.connect(copy, isolation_level=None)
    live = _snapshot(conn)
    assert sum(r[3] for r in live["trend_hourly"]) == seeded.mentions  # every seeded mention is classified
    assert live == _rebuilt(conn)


def test_rollups_follow_reclassification_deletion_and_late_brands(tmp_path: Path) -> None:
    store = SyncStore(tmp_path / "r.db")
    at = START + timedelta(hours=5, minutes=10)
    a = Mention(source="s", external_id="a", text="a", author="@x", created_at=at, brands=("acme",))
    b = Mention(source="s", external_id="b", text="b", author="@y", created_at=at, brands=("acme", "globex"))
    store.ingest("s", [a, b], [], None, at)
    save_labels(store, [(a, _label(Sentiment.NEGATIVE, True)), (b, _label(Sentiment.POSITIVE))], at)
    conn = store.db.conn
    hour = "2025-10-01T05"
    assert conn.execute(
        "SELECT mentions, negative, positive, complaints FROM trend_hourly WHERE hour = ?", [hour]
    ).fetchone() == (2, 1, 1, 1)
    # The model changes its mind: the old label is taken out, the new one added.
    save_labels(store, [(a, _label(Sentiment.NEUTRAL, language="ja"))], at)
    # A brand attributed after classification joins that brand's rollup.
    conn.execute("INSERT INTO mention_brands (mention_key, brand) VALUES ('s:a', 'initech')")
    conn.execute("DELETE FROM mentions WHERE key = 's:b'")
    assert _snapshot(conn) == _rebuilt(conn)
    assert conn.execute("SELECT SUM(mentions), SUM(neutral), SUM(complaints) FROM trend_hourly").fetchone() == (1, 1, 0)
    assert conn.execute(
        "SELECT brand, language, mentions FROM trend_brand_hourly WHERE mentions != 0 ORDER BY brand"
    ).fetchall() == [("acme", "ja", 1), ("initech", "ja", 1)]
    # Unscored mentions count as mentions but not in the shares.
    c = Mention(source="s", external_id="c", text="", author="@z", created_at=at, brands=("acme",))
    store.ingest("s", [c], [], None, at)
    save_labels(store, [(c, _label(None, language=None))], at)
    assert _snapshot(conn) == _rebuilt(conn)
    assert conn.execute(
        "SELECT language, scored FROM trend_hourly WHERE mentions = 1 AND language = 'und'"
    ).fetchone() == ("und", 0)
    store.close()


def _instant(offset_minutes: int) -> datetime:
    return START + timedelta(minutes=offset_minutes, seconds=17)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(0, 100 * 24 * 60),
    length=st.integers(1, 40 * 24 * 60),
    every=st.sampled_from(["hour", "day", "week", "month"]),
    by=st.lists(st.sampled_from(["brand", "source", "language"]), unique=True, max_size=2),
    brands=st.sampled_from([(), ("acme",), ("globex",), ("acme", "globex")]),
    sources=st.sampled_from([(), ("mastodon",), ("replay", "reviews")]),
    languages=st.sampled_from([(), ("en",), ("ja", "und")]),
    open_end=st.booleans(),
)
def test_rollup_path_equals_raw_path(
    seeded: Seeded,
    start: int,
    length: int,
    every: str,
    by: list[str],
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    open_end: bool,
) -> None:
    f = Filters(
        since=_instant(start),
        until=None if open_end else _instant(start + length),
        brands=brands,
        sources=sources,
        languages=languages,
    )
    conn = connect_readonly(seeded.path)
    try:
        fast = trends(conn, every=every, by=by, filters=f)
        raw = trends(conn, every=every, by=by, filters=f, use_rollups=False)
    finally:
        conn.close()
    assert fast == raw


def test_whole_range_counts_every_mention_once(seeded: Seeded) -> None:
    conn = connect_readonly(seeded.path)
    try:
        report = trends(conn, every="month", filters=Filters(since=datetime(2025, 1, 1, tzinfo=UTC)))
        both = trends(conn, every="month", filters=Filters(brands=("acme", "globex")))
        per_brand = trends(conn, every="month", by=["brand"], filters=Filters(brands=("acme", "globex")))
    finally:
        conn.close()
    assert sum(r["mentions"] for r in report["rows"]) == seeded.mentions
    assert sum(r["mentions"] for r in both["rows"]) == seeded.mentions
    # Mentions naming both brands count once per brand when grouped by brand.
    assert sum(r["mentions"] for r in per_brand["rows"]) > seeded.mentions


@pytest.mark.parametrize("statement", ["INSERT INTO trend_hourly (hour, source, language) VALUES ('x', 'y', 'z')"])
def test_rollups_are_not_writable_through_the_readonly_connection(seeded: Seeded, statement: str) -> None:
    conn = connect_readonly(seeded.path)
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute(statement)
    conn.close()
