"""`listener check-config`, `run` and `health`: validate the config, run the daemon, check it is alive."""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from listener.cli.common import CONFIG_OPTION, DB_OPTION, load_settings, open_store


@click.command("check-config")
@CONFIG_OPTION
def check_config(config_path: Path | None) -> None:
    """Validate a config file and report every problem (exit status 2 when invalid)."""
    from config.loader import resolve_config_path

    settings = load_settings(config_path)
    click.echo(
        f"{resolve_config_path(config_path)}: OK ({len(settings.brands)} brands, "
        f"{len(settings.connectors)} connectors)"
    )


@click.command("run")
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="One pass of every stage, then exit 0.")
def run_command(config_path: Path | None, once: bool) -> None:
    """Run the daemon until SIGINT/SIGTERM (or one pass with --once)."""
    import asyncio

    from listener.daemon import Daemon
    from listener.logging_setup import setup_logging

    settings = load_settings(config_path)
    setup_logging(settings.listener.log_level, settings.listener.log_format)
    daemon = Daemon(settings)
    try:
        summary = asyncio.run(daemon.run_once() if once else daemon.run())
    except sqlite3.OperationalError as err:
        # Read-only mount, full disk, wrong permissions: one clear line naming the file, no traceback.
        click.echo(f"error: {settings.listener.database}: the database cannot be used: {err}", err=True)
        sys.exit(1)
    click.echo(summary.line())


@click.command("health")
@CONFIG_OPTION
@DB_OPTION
@click.option("--max-age", default="5m", show_default=True, help="Longest acceptable silence of a stage.")
def health_command(config_path: Path | None, db_path: Path | None, max_age: str) -> None:
    """Exit non-zero when a daemon stage has stalled (used by the Docker HEALTHCHECK)."""
    from config.types import parse_duration
    from listener.health import check_health

    settings = load_settings(config_path, required=False)
    store = open_store(settings, config_path, db_path)
    try:
        problems = check_health(store, datetime.now(UTC), parse_duration(max_age))
    finally:
        store.close()
    for line in problems:
        click.echo(line, err=True)
    if problems:
        sys.exit(1)
    click.echo("healthy")
