"""SLA report arithmetic on hand-made clocks: rates, interpolated percentiles, breaches, grouping."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.analytics.db import connect_readonly
from listener.analytics.filters import FilterError, Filters
from listener.analytics.sla import sla_report
from listener.analytics.stats import percentile
from listener.store import SyncStore
from listener.timefmt import iso

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 3, 20, tzinfo=UTC)


def _clock(
    conn: sqlite3.Connection,
    key: str,
    brand: str,
    source: str,
    opened: datetime,
    answered_after: float | None,
    *,
    by: str | None = None,
    state: str | None = None,
    target: timedelta = timedelta(hours=1),
    lang: str = "en",
    business: float | None = None,
    policy: str = "default",
    is_complaint: int = 1,
    assigned_to: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO mentions (key, source, external_id, text, author, created_at, fetched_at, lang) "
        "VALUES (?, ?, ?, 'text', '@someone', ?, ?, ?)",
        [key, source, key, iso(opened), iso(opened), lang],
    )
    closed = None if answered_after is None else opened + timedelta(seconds=answered_after)
    conn.execute(
        "INSERT INTO complaints (mention_key, brand, source, opened_at, warn_at, deadline, state, closed_at, "
        "closed_by, response_seconds, business_seconds, policy, is_complaint, assigned_to) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            key,
            brand,
            source,
            iso(opened),
            iso(opened + target * 0.75),
            iso(opened + target),
            state or ("open" if closed is None else "replied"),
            iso(closed) if closed else None,
            by if by is not None else (None if closed is None else "reply by @AcmeSupport"),
            answered_after,
            business,
            policy,
            is_complaint,
            assigned_to,
        ],
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sla.db"
    store = SyncStore(path)
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    # acme on mastodon: 600 s, 1200 s, 4000 s (late), open past deadline, open before deadline (pending).
    _clock(conn, "a1", "acme", "mastodon", T0, 600)
    _clock(conn, "a2", "acme", "mastodon", T0 + timedelta(hours=1), 1200)
    _clock(conn, "a3", "acme", "mastodon", T0 + timedelta(days=1), 4000)
    _clock(conn, "a4", "acme", "mastodon", T0 + timedelta(days=2), None)
    _clock(conn, "a5", "acme", "mastodon", NOW - timedelta(minutes=10), None)
    # acme on reviews, acknowledged by hand; a different week (Monday 9 March).
    _clock(conn, "a6", "acme", "reviews", T0 + timedelta(days=7), 300, by="alice", state="acknowledged", lang="ja")
    # the competitor: two answers.
    _clock(conn, "g1", "globex", "mastodon", T0, 100, by="reply by @globexcare")
    _clock(conn, "g2", "globex", "mastodon", T0 + timedelta(hours=2), 7300, by="reply by @globexcare")
    conn.close()
    return path


def _rows(report: dict, key: str) -> dict:
    return {row[key]: row for row in report["rows"]}


def test_per_brand_numbers_and_competitor_beside_us(db: Path) -> None:
    conn = connect_readonly(db)
    report = sla_report(conn, by=["brand"], competitors=["globex"], now=NOW)
    rows = _rows(report, "brand")
    acme = rows["acme"]
    assert [r["brand"] for r in report["rows"]] == ["acme", "globex"]  # ours first
    assert (acme["complaints"], acme["answered"], acme["replied"], acme["acknowledged"], acme["open"]) == (
        6,
        4,
        3,
        1,
        2,
    )
    assert acme["response_rate"] == pytest.approx(4 / 6)
    # Sorted answers: 300, 600, 1200, 4000 -> median at rank 1.5, p90 at rank 2.7.
    assert acme["median_response_s"] == pytest.approx(900.0)
    assert acme["p90_response_s"] == pytest.approx(1200 + 0.7 * 2800)
    # Within: 300, 600, 1200. Breaches: 4000 s (late) and a4 (open past deadline). a5 is pending.
    assert (acme["within_target"], acme["breaches"]) == (3, 2)
    assert acme["within_target_share"] == pytest.approx(3 / 5)
    assert acme["competitor"] is False and rows["globex"]["competitor"] is True
    assert rows["globex"]["median_response_s"] == pytest.approx(3700.0)
    # Competitors are compared, never summed with us: the total is acme's alone.
    assert report["total"]["complaints"] == 6
    assert report["total"]["within_target"] == 3
    assert report["total_scope"] == "our brands (competitors left out)"
    assert report["clock"] == "business+wall"
    conn.close()


def test_total_leaves_competitors_out_whatever_the_grouping(db: Path) -> None:
    conn = connect_readonly(db)
    by_source = sla_report(conn, by=["source"], competitors=["globex"], now=NOW)
    by_brand = sla_report(conn, by=["brand"], competitors=["globex"], now=NOW)
    acme = {k: v for k, v in _rows(by_brand, "brand")["acme"].items() if k not in ("brand", "competitor")}
    assert by_source["total"] == by_brand["total"] == acme
    assert by_source["total"]["complaints"] == 6
    # Without competitors configured every brand is ours.
    assert sla_report(conn, by=["source"], now=NOW)["total"]["complaints"] == 8
    conn.close()


def test_by_assignee_source_and_week(db: Path) -> None:
    conn = connect_readonly(db)
    by_assignee = _rows(sla_report(conn, by=["assignee"], now=NOW), "assignee")
    assert set(by_assignee) == {"@AcmeSupport", "alice", "@globexcare", None}
    assert by_assignee["@AcmeSupport"]["answered"] == 3
    assert by_assignee[None]["open"] == 2
    weekly = sla_report(conn, by=["source"], every="week", filters=Filters(brands=("acme",)), now=NOW)
    keys = [(r["bucket"], r["source"]) for r in weekly["rows"]]
    assert keys == [("2026-03-02", "mastodon"), ("2026-03-09", "reviews"), ("2026-03-16", "mastodon")]
    by_language = _rows(sla_report(conn, by=["language"], now=NOW), "language")
    assert by_language["ja"]["complaints"] == 1
    conn.close()


def test_time_range_and_filters(db: Path) -> None:
    conn = connect_readonly(db)
    f = Filters(since=T0, until=T0 + timedelta(days=1), sources=("mastodon",))
    report = sla_report(conn, by=["brand"], filters=f, now=NOW)
    assert {r["brand"]: r["complaints"] for r in report["rows"]} == {"acme": 2, "globex": 2}
    assert report["filters"]["since"] == iso(T0)
    conn.close()


def test_empty_report_has_no_rates(db: Path) -> None:
    conn = connect_readonly(db)
    report = sla_report(conn, filters=Filters(brands=("nobody",)), now=NOW)
    assert report["rows"] == []
    assert report["total"]["response_rate"] is None and report["total"]["median_response_s"] is None
    with pytest.raises(FilterError):
        sla_report(conn, by=["weekday"], now=NOW)
    conn.close()


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
        ([1.0, 3.0, 10.0], 1.0, 10.0),
        ([2.0, 4.0], 0.0, 2.0),
    ],
)
def test_percentile_interpolates(values: list[float], fraction: float, expected: float) -> None:
    assert percentile(values, fraction) == pytest.approx(expected)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


@pytest.fixture
def policy_db(tmp_path: Path) -> Path:
    """Clocks of two policies with business time, a dismissed one and non-complaint (question) clocks."""
    path = tmp_path / "policy.db"
    SyncStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    # vip complaints: answered over a weekend (much wall clock, little business time), and one marked replied.
    _clock(conn, "v1", "acme", "mastodon", T0, 3 * 86400, business=1800, policy="vip", assigned_to="carol",
           target=timedelta(days=4))
    _clock(conn, "v2", "acme", "mastodon", T0, 600, business=600, policy="vip", by="dave", state="marked_replied")
    _clock(conn, "v3", "acme", "mastodon", T0, 900, business=300, policy="vip", by="carol",
           state="not_complaint")
    # default complaints: one answered, one still open past its deadline.
    _clock(conn, "d1", "acme", "reviews", T0, 1000, business=400)
    _clock(conn, "d2", "acme", "reviews", T0, None)
    # questions: a non-complaint policy; one answered, two unanswered.
    _clock(conn, "q1", "acme", "reviews", T0, 500, business=500, policy="questions", is_complaint=0)
    _clock(conn, "q2", "acme", "reviews", T0, None, policy="questions", is_complaint=0)
    _clock(conn, "q3", "acme", "mastodon", T0, None, policy="questions", is_complaint=0)
    conn.close()
    return path


def test_business_time_policies_and_non_complaint_clocks(policy_db: Path) -> None:
    conn = connect_readonly(policy_db)
    rows = _rows(sla_report(conn, by=["policy"], now=NOW), "policy")
    vip = rows["vip"]
    # v3 was closed as not a complaint: counted apart, not in any complaint figure.
    assert (vip["complaints"], vip["answered"], vip["marked_replied"], vip["not_complaint"]) == (2, 2, 1, 1)
    assert vip["median_business_s"] == pytest.approx((600 + 1800) / 2)
    assert vip["median_response_s"] == pytest.approx((600 + 3 * 86400) / 2)
    assert vip["p90_business_s"] == pytest.approx(600 + 0.9 * 1200)
    assert (vip["within_target"], vip["breaches"]) == (2, 0)
    default = rows["default"]
    assert (default["complaints"], default["answered"], default["breaches"]) == (2, 1, 1)
    assert default["median_business_s"] == pytest.approx(400.0)
    questions = rows["questions"]
    assert questions["complaints"] == 0 and questions["response_rate"] is None
    assert (questions["other_clocks"], questions["other_answered"], questions["other_unanswered"]) == (3, 1, 2)
    total = sla_report(conn, by=["brand"], now=NOW)["total"]
    assert (total["complaints"], total["breaches"], total["not_complaint"], total["other_unanswered"]) == (4, 1, 1, 2)
    conn.close()


def test_assignee_is_the_assigned_person_else_who_closed(policy_db: Path) -> None:
    conn = connect_readonly(policy_db)
    rows = _rows(sla_report(conn, by=["assignee"], now=NOW), "assignee")
    assert rows["carol"]["complaints"] == 1 and rows["carol"]["not_complaint"] == 1  # v1 assigned, v3 closed
    assert rows["dave"]["marked_replied"] == 1
    assert rows["@AcmeSupport"]["answered"] == 1
    conn.close()
