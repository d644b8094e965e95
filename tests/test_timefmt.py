"""The kernel's time helpers: the stored timestamp format and the one human duration formatter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from listener.timefmt import human_duration, iso, parse_iso


def test_iso_is_fixed_width_utc_and_parse_iso_inverts_it() -> None:
    when = datetime(2026, 3, 1, 9, 5, 7, 12, tzinfo=timezone(timedelta(hours=2)))
    text = iso(when)
    assert text == "2026-03-01T07:05:07.000012Z"
    assert parse_iso(text) == when and parse_iso(text).tzinfo is not None  # type: ignore[union-attr]
    assert parse_iso("2026-03-01T07:05:07") == datetime(2026, 3, 1, 7, 5, 7, tzinfo=UTC)
    assert parse_iso(None) is None and parse_iso("") is None


@pytest.mark.parametrize(
    ("value", "spaced", "joined"),
    [
        (45, "45s", "45s"),
        (12 * 60 + 29, "12m", "12m"),
        (3600 + 5 * 60, "1h 05m", "1h05m"),
        (2 * 86400 + 3 * 3600 + 59, "2d 3h", "2d3h"),
        (-(3600 + 5 * 60), "-1h 05m", "-1h05m"),
        (timedelta(hours=8), "8h 00m", "8h00m"),
    ],
)
def test_human_duration_default_and_joined(value: float | timedelta, spaced: str, joined: str) -> None:
    assert human_duration(value) == spaced
    assert human_duration(value, sep="") == joined


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (725, "12m 05s"), (720, "12m 00s"), (18420, "5h 07m"), (273600, "3d 4h"), (-725, "-12m 05s")],
)
def test_human_duration_exact_keeps_seconds_under_an_hour(seconds: float, text: str) -> None:
    assert human_duration(seconds, exact=True) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0m00s"), (242.9, "4m02s"), (3900, "1h05m"), (30 * 3600, "30h00m"), (-242, "-4m02s"), (-7920, "-2h12m")],
)
def test_human_duration_with_seconds_is_the_table_stopwatch(seconds: float, text: str) -> None:
    assert human_duration(seconds, seconds=True) == text
