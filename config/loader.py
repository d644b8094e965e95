"""Read the TOML file, substitute `${VAR}` from the environment, and validate everything.

All problems are gathered and reported together as `dotted.key.path: message` lines.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from config.schema import Settings
from listener.errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DEFAULT_PATH = Path("listener.toml")


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config PATH`, else `$LISTENER_CONFIG`, else `./listener.toml`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("LISTENER_CONFIG")
    return Path(env) if env else DEFAULT_PATH


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None, connectors: bool = True
) -> Settings:
    """Load and validate a config file; raise ConfigError listing every problem (`connectors`: see parse_config)."""
    file = resolve_config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: config file not found"]) from None
    except OSError as err:
        raise ConfigError([f"{file}: cannot read: {err.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{file}: {_toml_problem(str(err))}"]) from None
    return parse_config(data, env=env, connectors=connectors)


_TOML_WHERE = re.compile(r"^(?P<msg>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_TWICE = re.compile(r"^Cannot declare \((?P<keys>.*)\) twice$")


def _toml_problem(message: str) -> str:
    """tomllib's message in our words, led by the line number (tomllib names tables as Python tuples)."""
    where = _TOML_WHERE.match(message)
    if where is None:
        return f"not valid TOML: {message}"
    text, line = where.group("msg"), where.group("line")
    twice = _TOML_TWICE.match(text)
    if twice is not None:
        table = ".".join(part.strip().strip("'\"") for part in twice.group("keys").split(",") if part.strip())
        return f"line {line}: the table [{table}] is declared twice; merge the two into one"
    if text == "Cannot overwrite a value":
        return f"line {line}: a key is set twice (or a table is redefined by a key)"
    return f"line {line}, column {where.group('column')}: not valid TOML: {text}"


def parse_config(
    data: Mapping[str, Any], *, env: Mapping[str, str] | None = None, connectors: bool = True
) -> Settings:
    """Validate an already-parsed mapping (as read from TOML).

    `connectors=False` leaves the [connectors.*] tables out (`Settings.connectors` is empty): commands
    that only read the database need none, and validating one imports its connector module.
    """
    problems: list[str] = []
    expanded = _expand(dict(data), os.environ if env is None else env, (), problems)
    connector_tables = expanded.get("connectors", {})
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(expanded)
    except ValidationError as err:
        problems.extend(_format(err, Settings, ()))
    built_connectors: dict[str, Any] = {}
    if connectors and isinstance(connector_tables, Mapping):
        for name, table in connector_tables.items():
            built = _validate_connector(name, table, problems)
            if built is not None:
                built_connectors[name] = built
    problems.extend(_cross_checks(expanded, connector_tables))
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    db_override = (os.environ if env is None else env).get("LISTENER_DB")
    listener = settings.listener
    if db_override:
        listener = listener.model_copy(update={"database": Path(db_override)})
    return settings.model_copy(update={"connectors": built_connectors, "listener": listener})


def _validate_connector(name: str, table: Any, problems: list[str]) -> BaseModel | None:
    from connectors.registry import connector_class, known_types

    where = f"connectors.{name}"
    if not isinstance(table, Mapping):
        problems.append(f"{where}: must be a table")
        return None
    type_name = str(table.get("type", name))
    try:
        cls = connector_class(type_name)
    except KeyError:
        hint = _suggest(type_name, known_types())
        key = f"{where}.type" if "type" in table else where
        problems.append(f"{key}: unknown connector type {type_name!r}{hint}")
        return None
    except ImportError as err:
        problems.append(f"{where}: connector {type_name!r} cannot be loaded: {err}")
        return None
    try:
        return cls.Config.model_validate({**table, "type": type_name})
    except ValidationError as err:
        problems.extend(_format(err, cls.Config, ("connectors", name)))
        return None


def _cross_checks(data: Mapping[str, Any], connector_tables: Any) -> list[str]:
    """Checks between tables, run on the raw tables so they report even when other parts fail to validate."""
    problems: list[str] = []
    sla = data.get("sla")
    sla = sla if isinstance(sla, Mapping) else {}
    calendars = sla.get("calendars")
    calendar_names = sorted(str(n) for n in calendars) if isinstance(calendars, Mapping) else []
    policies = sla.get("policies")
    seen: set[str] = set()
    for index, policy in enumerate(policies if isinstance(policies, list) else []):
        if not isinstance(policy, Mapping):
            continue
        name, calendar = policy.get("name"), policy.get("calendar")
        if isinstance(name, str):
            if name in seen:
                problems.append(f"sla.policies[{index}].name: duplicate policy name {name!r}")
            seen.add(name)
        if isinstance(calendar, str) and calendar not in calendar_names:
            known = ", ".join(calendar_names) or "none defined"
            problems.append(
                f"sla.policies[{index}].calendar: unknown calendar {calendar!r} (known: {known})"
                + _suggest(calendar, calendar_names)
            )
    names = [str(n) for n in connector_tables] if isinstance(connector_tables, Mapping) else []
    brands = data.get("brands")
    for brand, spec in (brands.items() if isinstance(brands, Mapping) else ()):
        if not isinstance(spec, Mapping):
            continue
        for key in ("handles", "bots"):
            table = spec.get(key)
            for source in table if isinstance(table, Mapping) else ():
                if source not in names:
                    problems.append(
                        f"brands.{brand}.{key}.{source}: no connector named {source!r}" + _suggest(source, names)
                    )
    return problems


def _expand(value: Any, env: Mapping[str, str], path: tuple[str, ...], problems: list[str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string, recording unset variables."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in env:
                return env[var]
            if default is not None:
                return default
            problems.append(f"{_dotted(path)}: environment variable {var} is not set")
            return ""

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, env, (*path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, (*path, f"[{i}]"), problems) for i, v in enumerate(value)]
    return value


def _format(err: ValidationError, model: type[BaseModel], prefix: tuple[str, ...]) -> list[str]:
    lines = []
    for item in err.errors(include_url=False):
        loc = tuple(f"[{part}]" if isinstance(part, int) else _printable(str(part)) for part in item["loc"])
        path = _dotted((*prefix, *loc)) or "(top level)"
        if item["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            lines.append(f"{path}: unknown key{_suggest(loc[-1], allowed)}")
        elif item["type"] == "missing":
            lines.append(f"{path}: required key is missing")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {message}")
    return lines


def _dotted(parts: tuple[str, ...]) -> str:
    """`sla.policies[0].calendar`: keys joined by dots, list indexes in brackets."""
    return "".join(part if part.startswith("[") or not i else "." + part for i, part in enumerate(parts))


def _printable(part: str) -> str:
    # A key with a newline or escape code would forge extra lines in the error report; quote it.
    return part if part.isprintable() else repr(part)


def _fields_at(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """Field names of the (nested) model found at `loc`, skipping dict keys."""
    current: Any = model
    skip_key = False
    for part in loc:
        if skip_key:  # this part is a dict key such as a brand name
            skip_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args: tuple[Any, ...] = getattr(annotation, "__args__", ())
        if getattr(annotation, "__origin__", None) is dict and len(args) == 2:
            current, skip_key = args[1], True
            continue
        if getattr(annotation, "__origin__", None) is list and len(args) == 1:
            current, skip_key = args[0], True  # the next part is the item's index
            continue
        current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
