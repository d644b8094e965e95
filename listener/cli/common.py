"""What every CLI command family shares: `--config`, `--db`, loading settings, opening the store, routing offline.

Command modules import this module only, never the `listener` group (listener/cli/__init__.py), so the
group can register them lazily and no import cycle exists.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from alerts.base import Event
    from config.schema import Settings
    from listener.store import SyncStore

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "Config file (default: $LISTENER_CONFIG, else ./listener.toml)."
DB_HELP = "SQLite file to use (default: $LISTENER_DB, else the config's listener.database)."


def config_option(help: str = CONFIG_HELP) -> Callable[[F], F]:  # noqa: A002 - click's own keyword
    """The one `--config PATH` option (a missing file is reported by `load_settings`, not by click)."""
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help
    )


def db_option(help: str = DB_HELP) -> Callable[[F], F]:  # noqa: A002 - click's own keyword
    """The one `--db PATH` option: which SQLite file an operator or analyst command uses."""
    return click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help=help)


CONFIG_OPTION = config_option()
DB_OPTION = db_option()


def _register_secrets(value: Any) -> None:
    """Every SecretStr in the settings is redacted from log lines and error messages from now on."""
    from pydantic import BaseModel, SecretStr

    from listener.redact import register_secret

    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _register_secrets(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            _register_secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _register_secrets(item)


def load_settings(config_path: Path | None, *, required: bool = True, connectors: bool = True) -> Settings:
    """Load the config or exit with status 2 and every problem listed.

    `connectors=False` (commands that only read the database): the [connectors.*] tables are not
    validated, so no connector module (nor aiohttp) is imported; `settings.connectors` is empty.
    """
    from config.loader import load_config, parse_config, resolve_config_path
    from listener.errors import ConfigError

    path = resolve_config_path(config_path)
    if not required and config_path is None and not path.exists():
        settings = parse_config({})
    else:
        try:
            settings = load_config(path, connectors=connectors)
        except ConfigError as err:
            click.echo(f"{path}: configuration is invalid:", err=True)
            for line in err.problems:
                click.echo(f"  {line}", err=True)
            sys.exit(2)
    _register_secrets(settings)
    return settings


def database_path(
    settings: Settings, config_path: Path | None, db_path: Path | None, *, create: bool = False
) -> Path:
    """The database an operator command uses; a click error, never a new empty file, when there is none.

    `create` (commands that only write, like `mute`) accepts a database that the config or
    $LISTENER_DB names but that does not exist yet; without a config file nothing is created.
    """
    from config.loader import resolve_config_path

    if db_path is not None:
        if not db_path.is_file():
            raise click.ClickException(f"no database at {db_path} (--db)")
        return db_path
    path = settings.listener.database
    if path.is_file():
        return path
    config = resolve_config_path(config_path)
    if not config.exists() and not os.environ.get("LISTENER_DB"):
        raise click.ClickException(
            f"no config file found ({config}: give --config or set $LISTENER_CONFIG) and no database at {path} "
            "(give --db or set $LISTENER_DB); `listener demo` builds one to explore"
        )
    if create:
        return path
    where = f"listener.database in {config}" if config.exists() else "$LISTENER_DB"
    raise click.ClickException(
        f"no database at {path} ({where}): has `listener run` started yet? Give --db to read another file"
    )


def open_store(
    settings: Settings, config_path: Path | None, db_path: Path | None, *, create: bool = False
) -> SyncStore:
    """A SyncStore on the database `database_path` picks."""
    from listener.store import SyncStore

    return SyncStore(database_path(settings, config_path, db_path, create=create))


def open_configured_store(config_path: Path | None, db_path: Path | None, *, create: bool = False) -> SyncStore:
    """`open_store` with the settings loaded from `--config` (optional: a database alone is enough)."""
    return open_store(load_settings(config_path, required=False), config_path, db_path, create=create)


def offline_router(settings: Settings) -> Callable[[Event], list[str]]:
    """Route events to the configured sinks' names without delivering anything.

    The running daemon delivers what we queue here; delivering from the CLI too could send
    the same event twice.
    """

    import asyncio

    async def names() -> dict[str, Any]:
        import aiohttp

        from alerts import build_sinks

        async with aiohttp.ClientSession() as session:
            return {sink.name: sink for sink in build_sinks(settings.alerts, session)}

    sinks = asyncio.run(names())
    return lambda event: [name for name, sink in sinks.items() if sink.accepts(event)]
