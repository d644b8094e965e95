"""to_utc: every API timestamp format becomes aware UTC; anything else is a clear ValueError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connectors.timeutil import to_utc

# Keep clear of year 1 and 9999 so offsets cannot push a value out of datetime's range.
instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
zones = st.sampled_from(["Asia/Tokyo", "America/Los_Angeles", "Europe/Paris", "Australia/Lord_Howe", "UTC"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-15T09:12:00Z", datetime(2026, 1, 15, 9, 12, tzinfo=UTC)),
        ("2019-11-23T07:49:01.940Z", datetime(2019, 11, 23, 7, 49, 1, 940000, tzinfo=UTC)),  # Mastodon
        ("2025-06-01T12:05:00.000000Z", datetime(2025, 6, 1, 12, 5, tzinfo=UTC)),  # X-RateLimit-Reset
        ("2017-01-02T03:04:05.123456789Z", datetime(2017, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),  # GBP nanos
        ("2024-03-01T10:00:00-07:00", datetime(2024, 3, 1, 17, 0, tzinfo=UTC)),  # App Store RSS
        ("2024-03-01t10:00:00z", datetime(2024, 3, 1, 10, 0, tzinfo=UTC)),  # RFC 3339 lower case
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),  # HN created_at_i
        (1700000000.25, datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)),  # Reddit
        ("1700000000.123456", datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),  # Slack ts
        ({"seconds": "1700000000", "nanos": 123456789}, datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
        ({"seconds": 1700000000}, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("Tue Oct 31 22:10:47 +0000 2017", datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC)),  # Twitter v1.1
        ("Tue, 31 Oct 2017 22:10:47 +0200", datetime(2017, 10, 31, 20, 10, 47, tzinfo=UTC)),  # RFC 2822
        ("Tue, 31 Oct 2017 22:10:47 GMT", datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC)),
        ("Tue, 31 Oct 2017 22:10:47 -0000", datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC)),
    ],
)
def test_known_formats(value: object, expected: datetime) -> None:
    result = to_utc(value)
    assert result == expected
    assert result.tzinfo is UTC


def test_naive_local_time_uses_configured_zone() -> None:
    # Yelp style: naive local "YYYY-MM-DD HH:MM:SS" in the business's zone.
    assert to_utc("2026-01-15 09:12:00", tz="Asia/Tokyo") == datetime(2026, 1, 15, 0, 12, tzinfo=UTC)
    assert to_utc(datetime(2026, 7, 1, 12, 0), tz=ZoneInfo("Europe/Paris")) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_zone_is_ignored_when_the_value_has_one() -> None:
    assert to_utc("2026-01-15T09:12:00Z", tz="Asia/Tokyo") == datetime(2026, 1, 15, 9, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-01-15 09:12:00", "no time zone"),
        (datetime(2026, 1, 1), "no time zone"),
        ("yesterday", "unrecognised"),
        ("", "empty"),
        (True, "not a timestamp"),
        (None, "not a timestamp"),
        ([2026, 1, 1], "not a timestamp"),
        (float("nan"), "out of range"),
        (float("inf"), "out of range"),
        (1e20, "out of range"),
        ("9" * 40, "out of range"),
        ({"nanos": 5}, "seconds"),
        ({"seconds": "x"}, "not a timestamp"),
        ({"seconds": 1, "nanos": 2_000_000_000}, "not a timestamp"),
    ],
)
def test_rejects_with_clear_message(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_utc(value)


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        to_utc("2026-01-15 09:12:00", tz="Mars/Olympus")


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(instants, offsets)
def test_iso_round_trip_with_any_offset(instant: datetime, offset: timezone) -> None:
    assert to_utc(instant.astimezone(offset).isoformat()) == instant


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(instants)
def test_iso_with_z_and_millis(instant: datetime) -> None:
    millis = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    text = millis.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}Z"
    assert to_utc(text) == millis


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(st.integers(min_value=-2_000_000_000, max_value=7_000_000_000))
def test_epoch_int_and_text_agree(seconds: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    assert to_utc(seconds) == expected
    assert to_utc(str(seconds)) == expected


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(st.integers(min_value=0, max_value=7_000_000_000), st.integers(min_value=0, max_value=999_999_999))
def test_seconds_nanos(seconds: int, nanos: int) -> None:
    result = to_utc({"seconds": str(seconds), "nanos": nanos})
    base = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    assert result - base == timedelta(microseconds=nanos // 1000)


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(instants, offsets)
def test_rfc2822_and_twitter_round_trip(instant: datetime, offset: timezone) -> None:
    whole = instant.replace(microsecond=0)
    local = whole.astimezone(offset)
    assume(local.utcoffset().total_seconds() % 60 == 0)  # type: ignore[union-attr]
    assert to_utc(format_datetime(local)) == whole
    assert to_utc(local.strftime("%a %b %d %H:%M:%S %z %Y")) == whole


@settings(deadline=None)  # a loaded CI machine must not fail on speed
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)), zones)
def test_naive_local_time_keeps_the_wall_clock(naive: datetime, zone_name: str) -> None:
    where = ZoneInfo(zone_name)
    # Skip wall-clock times that do not exist (spring-forward gaps).
    assume(naive.replace(tzinfo=where).astimezone(UTC).astimezone(where).replace(tzinfo=None) == naive)
    result = to_utc(naive.isoformat(sep=" "), tz=zone_name)
    assert result.tzinfo is UTC
    assert result.astimezone(where).replace(tzinfo=None) == naive


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.dictionaries(st.sampled_from(["seconds", "nanos", "x"]), st.one_of(st.integers(), st.text(max_size=12))),
        st.none(),
        st.booleans(),
    )
)
def test_never_anything_but_utc_or_value_error(value: object) -> None:
    try:
        result = to_utc(value, tz="Europe/Paris")
    except ValueError:
        return
    assert result.tzinfo is UTC
