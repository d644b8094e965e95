"""Property tests: timestamp parsing and config loading never fail with anything but their documented error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from config.loader import parse_config
from connectors.timeutil import to_utc
from listener.errors import ConfigError

_ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=60)
_TIMESTAMPISH = st.one_of(
    _ANY_TEXT,
    st.from_regex(r"[+-]?\d{1,25}(\.\d{0,12})?", fullmatch=True),
    st.from_regex(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?([zZ]|[+-]\d\d:?\d\d)?", fullmatch=True),
    st.from_regex(r"(Mon|Tue), \d\d (Jan|Feb) \d{1,5} \d\d:\d\d:\d\d ([+-]\d{4}|GMT|UT)", fullmatch=True),
    st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.dictionaries(st.sampled_from(["seconds", "nanos", "x"]), st.one_of(st.integers(), _ANY_TEXT, st.none())),
    st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
)


@settings(max_examples=600, deadline=None)
@given(_TIMESTAMPISH, st.sampled_from([None, "UTC", "Europe/Paris", "Pacific/Kiritimati"]))
def test_to_utc_returns_aware_utc_or_value_error(value: object, tz: str | None) -> None:
    """Any input either parses to an aware UTC datetime or raises ValueError, never anything else."""
    try:
        parsed = to_utc(value, tz=tz)
    except ValueError:
        return
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1),
                    timezones=st.sampled_from(
                        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=11))]
                    )))
def test_round_trips_through_every_text_format(when: datetime) -> None:
    """ISO text, epoch seconds and the {seconds, nanos} mapping all name the same instant."""
    expected = when.astimezone(UTC)
    assert to_utc(when.isoformat()) == expected
    assert to_utc(when.isoformat().replace("+00:00", "z").replace("T", "t")) == expected
    epoch = expected - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = epoch.days * 86400 + epoch.seconds
    assert to_utc(f"{seconds}.{epoch.microseconds:06d}") == expected
    assert to_utc({"seconds": str(seconds), "nanos": epoch.microseconds * 1000}) == expected
    assert to_utc(seconds) == expected.replace(microsecond=0)


_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _ANY_TEXT,
              st.sampled_from(["${HOME}", "${UNSET_VAR_X}", "${A:-b}", "90s", "60m", "bogus"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(_ANY_TEXT, st.sampled_from(
                                ["listener", "brands", "connectors", "sinks", "sla", "type", "database",
                                 "keywords", "handles", "policies", "calendars", "slack", "mqtt", "api",
                                 "mastodon", "rss", "token", "url", "interval"])), inner, max_size=5)),
    max_leaves=25,
)
_SECTIONS = st.fixed_dictionaries(
    {},
    optional={
        "listener": _JSONISH, "brands": _JSONISH, "connectors": st.dictionaries(_ANY_TEXT, _JSONISH, max_size=3),
        "sinks": _JSONISH, "sla": _JSONISH, "api": _JSONISH,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_SECTIONS, st.dictionaries(_ANY_TEXT, _JSONISH, max_size=4)))
def test_parse_config_junk_gives_config_error_with_key_paths(data: dict) -> None:
    """Random junk either validates or raises ConfigError whose every line names where it is."""
    try:
        parse_config(data, env={"HOME": "/home/x", "A": "a"})
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            path, sep, message = problem.partition(": ")
            assert sep and message.strip(), problem
