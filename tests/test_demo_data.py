"""Checks the bundled demo data set: shape, threading, ordering, language mix and the clock scenarios."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest

T0 = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
BRAND_HANDLES = {"@AcmeSupport": "acme", "@acme_jp": "acme", "@GlobexCare": "globex"}
KEYWORDS = {
    "acme": ("acme", "acmemobile", "#acme", "アクメ"),
    "globex": ("globex", "#globex", "グローベックス"),
}
LABELS = {"complaint", "praise", "question", "neutral", "spam", "unscored", "brand_reply"}
LANGS = {"en", "ja", "es", "fr", "de", None}
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str, "text": str, "author": str, "author_name": str, "followers": int, "created_at": str,
    "url": str, "lang": (str, type(None)), "in_reply_to": (str, type(None)), "brand": str, "label": str,
}
SLA_TARGET = timedelta(minutes=60)
SLA_WARN = timedelta(minutes=45)
DEMO_LENGTH = timedelta(seconds=100)


def load() -> list[dict[str, Any]]:
    """Parse the packaged JSON Lines file, one object per non-empty line."""
    text = (files("listener") / "demo_data" / "mentions.jsonl").read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            assert isinstance(row, dict), f"line {number} is not an object"
            rows.append(row)
    return rows


def when(row: dict[str, Any]) -> datetime:
    """The record's created_at as an aware UTC datetime."""
    return datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return load()


def is_brand(row: dict[str, Any]) -> bool:
    return row["author"] in BRAND_HANDLES


@dataclass(frozen=True)
class Scenarios:
    """Counts of the clock scenarios the demo relies on, derived from the records."""

    overdue_at_start: int
    deadline_in_first_minute: int
    warn_window_brief: int
    warn_during_demo: int
    replied_during_demo: int
    live_arrivals: int


def first_replies(rows: list[dict[str, Any]]) -> dict[str, datetime]:
    """Record id -> time of the first brand reply to it."""
    out: dict[str, datetime] = {}
    for row in rows:
        if is_brand(row) and row["in_reply_to"]:
            out.setdefault(row["in_reply_to"], when(row))
    return out


def acme_root_complaints(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["label"] == "complaint" and r["brand"] == "acme" and not is_brand(r)
            and r["in_reply_to"] is None]


def scenarios(rows: list[dict[str, Any]]) -> Scenarios:
    """Count each scenario from timestamps and reply threads alone."""
    replied = first_replies(rows)
    roots = acme_root_complaints(rows)
    open_ = [r for r in roots if r["id"] not in replied]

    def n_open(lo: timedelta, hi: timedelta) -> int:
        return sum(1 for r in open_ if T0 + lo <= when(r) <= T0 + hi)

    warn_live = sum(1 for r in open_ if T0 < when(r) + SLA_WARN <= T0 + DEMO_LENGTH)
    live_replied = sum(
        1 for r in roots
        if T0 - timedelta(minutes=10) <= when(r) < T0 and r["id"] in replied
        and T0 + timedelta(seconds=10) <= replied[r["id"]] <= T0 + timedelta(seconds=90)
    )
    live = sum(1 for r in rows if not is_brand(r) and T0 + timedelta(seconds=5) <= when(r) <= T0 + DEMO_LENGTH)
    return Scenarios(
        overdue_at_start=n_open(-timedelta(hours=4), -timedelta(minutes=61)),
        deadline_in_first_minute=sum(1 for r in open_ if T0 <= when(r) + SLA_TARGET <= T0 + timedelta(seconds=60)),
        warn_window_brief=n_open(-timedelta(minutes=46), -timedelta(minutes=45, seconds=10)),
        warn_during_demo=warn_live,
        replied_during_demo=live_replied,
        live_arrivals=live,
    )


def test_every_record_has_the_required_fields(rows: list[dict[str, Any]]) -> None:
    assert 280 <= len(rows) <= 360
    for row in rows:
        for name, kind in REQUIRED.items():
            assert name in row, f"{row.get('id')}: missing {name}"
            assert isinstance(row[name], kind), f"{row['id']}: {name} has type {type(row[name]).__name__}"
        assert re.fullmatch(r"d\d{4}", row["id"]), row["id"]
        assert row["text"].strip(), row["id"]
        assert row["author"].startswith("@") and row["author_name"].strip(), row["id"]
        assert row["followers"] >= 0, row["id"]
        assert row["created_at"].endswith("Z") and when(row).utcoffset() == timedelta(0), row["id"]
        assert row["url"] == f"https://social.example/{row['author']}/{row['id']}", row["id"]
        assert row["lang"] in LANGS and row["brand"] in KEYWORDS and row["label"] in LABELS, row["id"]


def test_ids_are_unique(rows: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))


def test_sorted_by_time_within_the_demo_span(rows: list[dict[str, Any]]) -> None:
    times = [when(r) for r in rows]
    assert times == sorted(times)
    assert T0 - timedelta(hours=4) <= times[0] and times[-1] <= T0 + DEMO_LENGTH


def test_replies_point_to_earlier_records(rows: list[dict[str, Any]]) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["in_reply_to"] is not None:
            parent = seen.get(row["in_reply_to"])
            assert parent is not None, f"{row['id']} replies to {row['in_reply_to']}, not an earlier record"
            assert when(parent) < when(row), row["id"]
        seen[row["id"]] = row


def test_brand_replies_answer_a_customer_of_their_own_brand(rows: list[dict[str, Any]]) -> None:
    by_id = {r["id"]: r for r in rows}
    brand_rows = [r for r in rows if is_brand(r)]
    assert len(brand_rows) >= 40
    for row in rows:
        assert is_brand(row) == (row["label"] == "brand_reply"), row["id"]
    for row in brand_rows:
        assert row["in_reply_to"] is not None, row["id"]
        parent = by_id[row["in_reply_to"]]
        assert not is_brand(parent), row["id"]
        assert BRAND_HANDLES[row["author"]] == row["brand"] == parent["brand"], row["id"]
        assert row["text"].startswith(parent["author"] + " "), row["id"]
    # some praise and questions get a friendly answer as well
    answered_labels = Counter(by_id[r["in_reply_to"]]["label"] for r in brand_rows)
    assert answered_labels["praise"] + answered_labels["question"] >= 5


def test_customer_texts_mention_a_brand(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if is_brand(row) or row["label"] == "unscored":
            continue
        low = row["text"].lower()
        assert any(k in low for words in KEYWORDS.values() for k in words), row["id"]
        assert any(k in low for k in KEYWORDS[row["brand"]]), f"{row['id']} does not name its brand"


def test_unscored_records_are_only_emoji_or_only_a_url(rows: list[dict[str, Any]]) -> None:
    unscored = [r for r in rows if r["label"] == "unscored"]
    assert 2 <= len(unscored) <= 12
    for row in unscored:
        text = row["text"].strip()
        url_only = re.fullmatch(r"https?://\S+", text) is not None
        no_words = not any(ch.isalnum() for ch in text)
        assert url_only or no_words, row["id"]
        assert row["lang"] is None, row["id"]


def test_clock_scenarios_are_present(rows: list[dict[str, Any]]) -> None:
    got = scenarios(rows)
    assert got.overdue_at_start >= 12
    assert got.deadline_in_first_minute >= 6
    assert got.warn_window_brief >= 6
    assert got.warn_during_demo >= 6
    assert got.replied_during_demo >= 4
    assert got.live_arrivals >= 10


def test_scenario_counts_come_from_the_threads_and_times(rows: list[dict[str, Any]]) -> None:
    """The counters must react to the data: drop every brand reply, or shift the clock, and they change."""
    base = scenarios(rows)
    no_replies = scenarios([r for r in rows if not is_brand(r)])
    assert no_replies.replied_during_demo == 0 < base.replied_during_demo
    assert no_replies.overdue_at_start > base.overdue_at_start
    shifted = [dict(r, created_at=(when(r) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) for r in rows]
    assert scenarios(shifted).deadline_in_first_minute < base.deadline_in_first_minute


def test_acme_response_times_are_spread(rows: list[dict[str, Any]]) -> None:
    replied = first_replies(rows)
    before = [r for r in acme_root_complaints(rows) if when(r) < T0]
    delays = [replied[r["id"]] - when(r) for r in before if r["id"] in replied]
    assert 0.45 <= len(delays) / len(before) <= 0.75
    assert min(delays) <= timedelta(minutes=5)
    assert timedelta(hours=2, minutes=30) <= max(delays) <= timedelta(hours=3, minutes=5)
    assert sum(d <= SLA_TARGET for d in delays) >= 5 and sum(d > SLA_TARGET for d in delays) >= 5


def test_globex_answers_its_complaints_too(rows: list[dict[str, Any]]) -> None:
    replied = first_replies(rows)
    complaints = [r for r in rows if r["label"] == "complaint" and r["brand"] == "globex"]
    assert len(complaints) >= 8
    assert sum(r["id"] in replied for r in complaints) >= 5


def test_language_mix(rows: list[dict[str, Any]]) -> None:
    langs = Counter(r["lang"] for r in rows if r["lang"] is not None)
    total = sum(langs.values())
    assert 0.55 <= langs["en"] / total <= 0.75
    assert 0.22 <= langs["ja"] / total <= 0.38
    assert all(langs[lang] >= 1 for lang in ("es", "fr", "de"))
    assert 3 <= langs["es"] + langs["fr"] + langs["de"] <= 0.1 * total
    assert set(langs) <= {"en", "ja", "es", "fr", "de"}


def test_category_mix(rows: list[dict[str, Any]]) -> None:
    customers = [r for r in rows if not is_brand(r)]
    share = {k: v / len(customers) for k, v in Counter(r["label"] for r in customers).items()}
    assert 0.28 <= share["complaint"] <= 0.42
    assert 0.14 <= share["praise"] <= 0.26
    assert 0.14 <= share["question"] <= 0.26
    assert 0.10 <= share["neutral"] <= 0.20
    assert 0.02 <= share["spam"] <= 0.08


def test_authors_and_reach_vary(rows: list[dict[str, Any]]) -> None:
    customers = [r for r in rows if not is_brand(r)]
    assert len({r["author"] for r in customers}) >= 180
    reach = [r["followers"] for r in customers]
    assert min(reach) <= 5 and max(reach) >= 200_000
    assert sum(f >= 50_000 for f in {r["author"]: r["followers"] for r in customers}.values()) >= 3
    # one account, one follower count
    per_author: dict[str, set[int]] = {}
    for r in rows:
        per_author.setdefault(r["author"], set()).add(r["followers"])
    assert all(len(v) == 1 for v in per_author.values())


def test_some_customers_follow_up_on_their_own_posts(rows: list[dict[str, Any]]) -> None:
    by_id = {r["id"]: r for r in rows}
    follow_ups = [
        r for r in rows
        if not is_brand(r) and r["in_reply_to"] and by_id[r["in_reply_to"]]["author"] == r["author"]
    ]
    assert len(follow_ups) >= 2
