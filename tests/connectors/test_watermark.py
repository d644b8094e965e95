"""The one Watermark: overlap reading for social streams, exact reading for review lists, both cursor layouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors._watermark import Watermark

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_exact_reading_takes_later_changes_and_new_ids_at_the_mark() -> None:
    mark = Watermark()
    mark.advance([("a", T), ("b", T - MINUTE)])
    assert mark.at == T and set(mark.seen) == {"a"}  # exact: only ids at the mark's own instant are kept
    assert not mark.is_new("a", T)
    assert mark.is_new("c", T)  # another review in the same second
    assert mark.is_new("a", T + MINUTE)  # the same review edited later
    assert not mark.is_new("b", T - MINUTE)  # below the mark
    assert mark.reached(T) and not mark.reached(T + MINUTE)


def test_overlap_reading_remembers_ids_near_the_mark() -> None:
    mark = Watermark()
    overlap = 5 * MINUTE
    mark.advance([("a", T), ("b", T - 2 * MINUTE), ("old", T - 9 * MINUTE)], overlap, started=T)
    assert set(mark.seen) == {"a", "b"}
    assert not mark.is_new("b", T - 2 * MINUTE, overlap)  # seen within the overlap
    assert mark.is_new("late", T - 3 * MINUTE, overlap)  # indexed late, still inside the overlap
    assert not mark.is_new("older", T - 6 * MINUTE, overlap)


def test_a_stream_empty_at_its_first_poll_is_marked_read_to_its_start() -> None:
    mark = Watermark()
    mark.advance([], MINUTE, started=T)
    assert mark.at == T and not mark.fresh


def test_both_cursor_layouts_load_and_round_trip() -> None:
    review = Watermark.load({"at": T.isoformat(), "ids": ["x", "y"]})  # what review streams have always stored
    assert review.at == T and not review.is_new("x", T) and review.is_new("z", T)
    assert review.dump_ids() == {"at": T.isoformat(), "ids": ["x", "y"]}
    social = Watermark.load({"at": T.isoformat(), "seen": {"p": T.timestamp()}})
    assert Watermark.load(social.dump()) == social
    assert Watermark.load({"at": "not a time", "seen": {"p": 1}}) == Watermark()
    assert Watermark.load(None) == Watermark()


def test_copy_is_independent() -> None:
    mark = Watermark(T, {"a": T.timestamp()})
    top = mark.copy()
    top.advance([("b", T + MINUTE)])
    assert mark.at == T and set(mark.seen) == {"a"}
