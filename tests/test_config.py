"""Config loading: env substitution, every error with its key path, the documented example."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from config.loader import load_config, parse_config
from config.schema import Settings
from config.types import format_duration, parse_duration
from connectors.registry import connector_class
from listener.cli import main
from listener.errors import ConfigError
from listener.sla.policy import CalendarSettings, Policy

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "listener.example.toml"


def problems_of(data: dict[str, Any], **env: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env=env)
    return info.value.problems


def test_all_problems_are_reported_at_once_with_key_paths() -> None:
    problems = problems_of(
        {
            "listener": {"databse": "x.db"},
            "sla": {"target": "sixty"},
            "brands": {"acme": {"keywords": ["acme"], "handels": {}}},
            "alerts": {"slack": {"webhook_url": "${NOT_SET_ANYWHERE}"}},
            "connectors": {"feed": {"type": "jsnol", "path": "x"}},
        }
    )
    text = "\n".join(problems)
    assert "listener.databse: unknown key (did you mean 'database'?)" in text
    assert "sla.target: invalid duration 'sixty'" in text
    assert "brands.acme.handels: unknown key (did you mean 'handles'?)" in text
    assert "alerts.slack.webhook_url: environment variable NOT_SET_ANYWHERE is not set" in text
    assert "connectors.feed.type: unknown connector type 'jsnol' (did you mean 'jsonl'?)" in text
    assert len(problems) == 5


def test_connector_tables_are_validated_by_their_own_model() -> None:
    problems = problems_of({"connectors": {"feed": {"type": "jsonl", "path": "x", "poll_interval": "-"}}})
    assert problems and problems[0].startswith("connectors.feed.poll_interval:")


def test_environment_variables_fill_secrets_and_defaults() -> None:
    settings = parse_config(
        {"alerts": {"slack": {"bot_token": "${TOKEN}", "channel": "${CHANNEL:-#social}"}}}, env={"TOKEN": "xoxb-1"}
    )
    assert settings.alerts.slack.bot_token is not None
    assert settings.alerts.slack.bot_token.get_secret_value() == "xoxb-1"
    assert settings.alerts.slack.channel == "#social"
    assert "xoxb-1" not in repr(settings)


def test_listener_db_overrides_the_database_path() -> None:
    settings = parse_config({"listener": {"database": "a.db"}}, env={"LISTENER_DB": "/tmp/b.db"})
    assert settings.listener.database == Path("/tmp/b.db")


def test_handles_must_name_a_configured_connector() -> None:
    problems = problems_of({"brands": {"acme": {"handles": {"mastodn": ["@acme"]}}}})
    assert problems == ["brands.acme.handles.mastodn: no connector named 'mastodn'"]


def test_example_config_is_valid() -> None:
    settings = load_config(EXAMPLE, env={})
    assert settings.brands and settings.connectors


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        path = f"{prefix}{name}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, path + ".")
        elif name not in ("brands", "connectors"):
            keys.add(path)
    return keys


def _flatten(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        if isinstance(value, dict) and key not in ("handles", "labels"):
            keys.add(f"{prefix}{key}")
            keys |= _flatten(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    data = tomllib.loads(text)
    present = _flatten(data)
    # Optional keys without a sensible example value are documented as commented-out lines.
    commented = set(re.findall(r"^# ?([a-z_]+) = ", text, flags=re.M))
    missing = {k for k in _keys(Settings) - present if k.rsplit(".", 1)[-1] not in commented}
    assert not missing, f"config/listener.example.toml lacks {sorted(missing)}"
    brand_keys = {k.split(".", 2)[2] for k in present if k.startswith("brands.") and k.count(".") >= 2}
    assert {"keywords", "exclude", "handles", "competitor"} <= brand_keys
    text_keys = set(re.findall(r"^#? ?([a-z_]+) = ", text, flags=re.M))
    policy_keys = set().union(*(p.keys() for p in data["sla"]["policies"])) | text_keys
    assert set(Policy.model_fields) <= policy_keys, set(Policy.model_fields) - policy_keys
    calendar_keys = set().union(*(c.keys() for c in data["sla"]["calendars"].values()))
    assert set(CalendarSettings.model_fields) <= calendar_keys
    for name, table in data["connectors"].items():
        cls = connector_class(table.get("type", name))
        missing = set(cls.Config.model_fields) - set(table) - commented
        assert not missing, f"connectors.{name} lacks {sorted(missing)} in the example"


def test_check_config_exits_2_and_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sla]\ntarget = "1x"\n[listener]\nlog_levl = "INFO"\n')
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "sla.target:" in err and "listener.log_levl: unknown key (did you mean 'log_level'?)" in err


def test_check_config_reports_toml_syntax_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sla\n")
    assert main(["check-config", "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("60m", 3600), ("2h", 7200), ("1h30m", 5400), ("250ms", 0.25)]
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "m", "10 parsecs", "-5m", True, [1], 45, 0, 1.5])
def test_bad_durations_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@given(st.integers(min_value=0, max_value=10**8))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


@given(st.text(max_size=30))
def test_duration_parser_never_crashes_unexpectedly(text: str) -> None:
    try:
        parse_duration(text)
    except ValueError:
        pass


# -- issue 16: every problem at once, exact keys, credentials, bare numbers ----------------------


def test_cross_checks_run_even_when_other_tables_fail() -> None:
    problems = problems_of(
        {
            "sla": {
                "target": "sixty",
                "policies": [{"name": "p", "first_response": "1h", "calendar": "offce"}],
                "calendars": {"office": {"timezone": "UTC"}},
            },
            "brands": {"acme": {"keywords": ["acme"], "handles": {"x": ["@acme"]}}},
            "connectors": {"x": {"type": "x", "bearer_token": "t", "max_results": 5}},
        }
    )
    text = "\n".join(problems)
    assert "sla.target: invalid duration 'sixty'" in text
    assert "sla.policies[0].calendar: unknown calendar 'offce'" in text
    # The connector table is invalid, but it exists: the brand's handles do not point at nothing.
    assert "connectors.x.max_results:" in text
    assert not any(p.startswith("brands.acme.handles") for p in problems)


def test_calendar_errors_name_the_exact_key() -> None:
    problems = problems_of(
        {"sla": {"calendars": {"office": {"timezone": "Mars/Olympus"}, "shop": {"hours": {"mon": "9-17"}}}}}
    )
    assert any(p.startswith("sla.calendars.office.timezone: unknown timezone 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("sla.calendars.shop.hours: invalid shift '9-17'") for p in problems)


def test_duplicate_toml_table_is_reported_in_our_words(tmp_path: Path) -> None:
    path = tmp_path / "dup.toml"
    path.write_text('[listener]\nlog_level = "INFO"\n\n[sla]\ntarget = "1h"\n[listener]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    (line,) = info.value.problems
    assert line == f"{path}: line 6: the table [listener] is declared twice; merge the two into one"


def test_duplicate_toml_key_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.toml"
    path.write_text('[sla]\ntarget = "1h"\ntarget = "2h"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.problems == [f"{path}: line 3: a key is set twice (or a table is redefined by a key)"]


@pytest.mark.parametrize("number", [60, 0, 1.5])
def test_bare_number_duration_is_refused_with_the_hint(number: float) -> None:
    problems = problems_of({"sla": {"policies": [{"name": "p", "first_response": number}]}})
    assert problems == [
        f"sla.policies[0].first_response: invalid duration {number!r}: a bare number has no unit; "
        'use a number with a unit, e.g. "90s", "60m", "2h"'
    ]


def test_enabled_x_connector_needs_a_bearer_token() -> None:
    problems = problems_of({"connectors": {"x": {"type": "x", "bearer_token": "${X_TOKEN:-}"}}})
    assert problems == ["connectors.x.bearer_token: must not be empty (put ${X_BEARER_TOKEN} here)"]
    # A disabled table (like the example's) may leave it empty.
    parse_config({"connectors": {"x": {"type": "x", "enabled": False, "bearer_token": ""}}}, env={})


def test_enabled_bluesky_connector_needs_a_login() -> None:
    problems = problems_of({"connectors": {"bsky": {"type": "bluesky"}}})
    assert problems == [
        "connectors.bsky.identifier: required: searchPosts needs a login "
        '(set identifier and app_password = "${BLUESKY_APP_PASSWORD}", or search = [] to read only the brand feeds)'
    ]
    problems = problems_of(
        {"connectors": {"bsky": {"type": "bluesky", "identifier": "me.bsky.social", "app_password": "${PW:-}"}}}
    )
    assert problems == [
        "connectors.bsky.app_password: must not be empty: identifier and app_password go together "
        "(put ${BLUESKY_APP_PASSWORD} here)"
    ]
    parse_config({"connectors": {"bsky": {"type": "bluesky", "enabled": False}}}, env={})
    parse_config({"connectors": {"bsky": {"type": "bluesky", "search": []}}}, env={})  # brand feeds only


def test_poll_with_a_bad_connector_config_prints_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "listener.toml"
    path.write_text('[brands.acme]\nkeywords = ["acme"]\n[connectors.x]\ntype = "x"\nbearer_token = "${X_TOKEN:-}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "listener", "poll", "x", "--once", "--dry-run", "--config", str(path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "connectors.x.bearer_token: must not be empty" in done.stderr


def test_poll_that_fails_at_run_time_prints_one_line(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "listener.toml"
    path.write_text(
        '[brands.acme]\nkeywords = ["acme"]\n[connectors.x]\ntype = "x"\nbearer_token = "t"\n'
        f'base_url = "http://127.0.0.1:{port}/2"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "listener", "poll", "x", "--once", "--dry-run", "--config", str(path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: x: poll failed:") and len(done.stderr.strip().splitlines()) == 1


def test_errors_between_keys_name_the_key_at_fault() -> None:
    problems = problems_of(
        {
            "sla": {"target": "30m", "warn_after": "45m"},
            "classifier": {"backend": "huggingface"},
            "alerts": {"mqtt": {"ca_file": "ca.pem"}},
        }
    )
    assert sorted(problems) == [
        "alerts.mqtt.ca_file: ca_file needs tls = true",
        'classifier.model: backend = "huggingface" needs `model` (a model id or a local path)',
        "sla.warn_after: warn_after must not be later than target",
    ]
