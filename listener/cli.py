"""The `listener` command line (click): run the daemon, inspect clocks, classify, demo."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from listener.store import SyncStore

from alerts.base import Event
from config.loader import load_config, resolve_config_path
from config.schema import Settings
from listener.errors import ConfigError, SourceError
from listener.logging_setup import setup_logging
from listener.redact import redact, register_secret

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: $LISTENER_CONFIG, else ./listener.toml).",
)

DB_OPTION = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file to use (default: $LISTENER_DB, else the config's listener.database).",
)


def _register_secrets(value: Any) -> None:
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


def load_settings(config_path: Path | None, *, required: bool = True) -> Settings:
    """Load the config or exit with status 2 and every problem listed."""
    path = resolve_config_path(config_path)
    if not required and config_path is None and not path.exists():
        from config.loader import parse_config

        settings = parse_config({})
    else:
        try:
            settings = load_config(path)
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


@click.group()
@click.version_option(package_name="listener")
def cli() -> None:
    """Social listening and response-time monitoring daemon."""


@cli.command("check-config")
@CONFIG_OPTION
def check_config(config_path: Path | None) -> None:
    """Validate a config file and report every problem (exit status 2 when invalid)."""
    settings = load_settings(config_path)
    click.echo(
        f"{resolve_config_path(config_path)}: OK ({len(settings.brands)} brands, "
        f"{len(settings.connectors)} connectors)"
    )


@cli.command("run")
@CONFIG_OPTION
@click.option("--once", is_flag=True, help="One pass of every stage, then exit 0.")
def run_command(config_path: Path | None, once: bool) -> None:
    """Run the daemon until SIGINT/SIGTERM (or one pass with --once)."""
    from listener.daemon import Daemon

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


def _fmt_age(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}h{rest // 60:02d}m" if hours else f"{sign}{rest // 60}m{rest % 60:02d}s"


def _time_left(seconds: float) -> str:
    """Time to the deadline as `40m12s left`, or past it as `overdue 2h12m`."""
    return f"overdue {_fmt_age(-seconds)}" if seconds < 0 else f"{_fmt_age(seconds)} left"


@cli.command("complaints")
@CONFIG_OPTION
@DB_OPTION
@click.option("--open", "open_only", is_flag=True, help="Only complaints whose clock is running.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--limit", type=int, default=200, show_default=True)
def complaints_command(config_path: Path | None, db_path: Path | None, open_only: bool, fmt: str, limit: int) -> None:
    """List complaints with their age, deadline and state (--open: most urgent first, overdue at the top)."""
    settings = load_settings(config_path, required=False)
    store = open_store(settings, config_path, db_path)
    try:
        rows = store.complaints(open_only=open_only, limit=limit)
    finally:
        store.close()
    now = datetime.now(UTC)
    if fmt == "json":
        for c in rows:
            click.echo(
                json.dumps(
                    {
                        "mention": c.mention_key,
                        "brand": c.brand,
                        "source": c.source,
                        "author": c.author,
                        "text": c.text,
                        "opened_at": c.opened_at.isoformat(),
                        "deadline": c.deadline.isoformat(),
                        "age_seconds": round((now - c.opened_at).total_seconds(), 1),
                        "state": c.state,
                        "breached": c.breached_at is not None,
                        "response_seconds": c.response_seconds,
                        "closed_by": c.closed_by,
                    },
                    ensure_ascii=False,
                )
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{'Open complaints' if open_only else 'Complaints'} ({len(rows)})")
    for column in ("mention", "brand", "author", "age", "deadline", "state", "text"):
        table.add_column(column, overflow="fold")
    for c in rows:
        left = (c.deadline - now).total_seconds()
        state = c.state + (" (breached)" if c.breached_at else "")
        if c.response_seconds is not None:
            state += f" in {_fmt_age(c.response_seconds)}"
        deadline = c.deadline.strftime("%Y-%m-%d %H:%M") + (f" ({_time_left(left)})" if c.state == "open" else "")
        table.add_row(
            c.mention_key, c.brand, c.author, _fmt_age((now - c.opened_at).total_seconds()), deadline, state,
            c.text[:80].replace("\n", " "),
        )
    Console().print(table)


def _resolve_key(store: Any, mention_id: str) -> str:
    if store.mention_exists(mention_id):
        return mention_id
    matches = [r[0] for r in store.db.execute("SELECT key FROM mentions WHERE external_id = ?", [mention_id])]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise click.UsageError(f"{mention_id!r} is ambiguous: {', '.join(matches)}")
    raise click.UsageError(f"no mention {mention_id!r} (use the key shown by `listener complaints`)")


@cli.command("ack")
@CONFIG_OPTION
@DB_OPTION
@click.argument("mention_id")
@click.option("--by", default="cli", show_default=True, help="Who answered (recorded with the clock).")
def ack_command(config_path: Path | None, db_path: Path | None, mention_id: str, by: str) -> None:
    """Stop a complaint's clock by hand and record the response time."""
    from listener.clocks import ClockEngine

    settings = load_settings(config_path, required=False)
    store = open_store(settings, config_path, db_path)
    store.set_engine(ClockEngine.from_settings(settings.sla))  # the case rules need the policies
    try:
        key = _resolve_key(store, mention_id)
        # Events are routed at the next daemon pass: queue them for every sink that wants them.
        stopped = store.acknowledge(key, by, datetime.now(UTC), offline_router(settings))
    finally:
        store.close()
    if not stopped:
        raise click.ClickException(f"{key} has no running clock")
    click.echo(f"{key}: clock stopped by {by}")


def offline_router(settings: Settings) -> Callable[[Event], list[str]]:
    """Route events to the configured sinks' names without delivering anything.

    The running daemon delivers what we queue here; delivering from the CLI too could send
    the same event twice.
    """

    async def names() -> dict[str, Any]:
        import aiohttp

        from alerts import build_sinks

        async with aiohttp.ClientSession() as session:
            return {sink.name: sink for sink in build_sinks(settings.alerts, session)}

    sinks = asyncio.run(names())
    return lambda event: [name for name, sink in sinks.items() if sink.accepts(event)]


@cli.command("label")
@CONFIG_OPTION
@DB_OPTION
@click.argument("mention_id")
@click.option("--sentiment", type=click.Choice(["negative", "neutral", "positive"]), default=None)
@click.option("--complaint", type=click.Choice(["yes", "no"]), default=None)
@click.option("--by", default="cli", show_default=True)
def label_command(
    config_path: Path | None, db_path: Path | None, mention_id: str, sentiment: str | None, complaint: str | None,
    by: str,
) -> None:
    """Store a human correction of a mention's labels (used by `model train --include-corrections`)."""
    from listener.clocks import ClockEngine
    from listener.corrections import save_correction
    from listener.store import SyncStore

    if sentiment is None and complaint is None:
        raise click.UsageError("give --sentiment and/or --complaint")
    settings = load_settings(config_path, required=False)
    database = database_path(settings, config_path, db_path)
    store = SyncStore(database)
    try:
        key = _resolve_key(store, mention_id)
        text = store.get_mentions([key])[0].text
    finally:
        store.close()
    save_correction(
        database,
        text,
        None if sentiment is None else ["negative", "neutral", "positive"].index(sentiment),
        None if complaint is None else int(complaint == "yes"),
        mention_key=key,
        by=by,
    )
    if complaint is not None:  # "not a complaint" closes its clock; "a complaint" may open one
        store = SyncStore(database)
        store.set_engine(ClockEngine.from_settings(settings.sla))
        try:
            store.reconsider(key, datetime.now(UTC), offline_router(settings))
        finally:
            store.close()
    click.echo(f"{key}: correction stored")


@cli.command("health")
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


@cli.command("poll")
@CONFIG_OPTION
@DB_OPTION
@click.argument("name")
@click.option("--once", is_flag=True, required=True, help="Poll one time (the only mode for now).")
@click.option("--dry-run", is_flag=True, help="Print mapped mentions as JSON lines; store nothing.")
def poll_command(config_path: Path | None, db_path: Path | None, name: str, once: bool, dry_run: bool) -> None:
    """Poll one connector once and print what it maps (the developer loop)."""
    from listener.probe import poll_once

    settings = load_settings(config_path)
    if db_path is not None:  # the cursor is read from (and, without --dry-run, the page stored in) this file
        settings = settings.model_copy(update={"listener": settings.listener.model_copy(update={"database": db_path})})
    if name not in settings.connectors:
        raise click.UsageError(f"no connector {name!r}; configured: {', '.join(settings.connectors) or 'none'}")
    setup_logging(settings.listener.log_level, settings.listener.log_format)
    try:
        lines = asyncio.run(poll_once(settings, name, store=not dry_run))
    except (SourceError, ConfigError) as err:
        # What the daemon would log as the source's error: one line, no traceback.
        first_line = (redact(str(err)).splitlines() or [type(err).__name__])[0]
        click.echo(f"error: {name}: poll failed: {first_line}", err=True)
        sys.exit(1)
    except sqlite3.Error as err:
        click.echo(f"error: {settings.listener.database}: the database cannot be used: {err}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


def _replies_seen(store: SyncStore, source: str) -> tuple[int, str | None]:
    """How many brand replies this source has brought us, and when we saw the latest."""
    row = store.db.execute("SELECT COUNT(*), MAX(seen_at) FROM replies WHERE source = ?", [source]).fetchone()
    return (row[0] or 0, row[1]) if row else (0, None)


def _replies_cell(item: dict[str, Any]) -> str:
    """What the platform can show, then what we have actually seen (only after a successful poll)."""
    if item["platform_shows_replies"] is None:
        return "?"
    if not item["platform_shows_replies"]:
        return "platform hides them (use ack)"
    if item["replies_seen"] is None:
        return "shown; not polled yet"
    if item["replies_seen"] == 0:
        return "shown; none seen yet"
    return f"shown; {item['replies_seen']} seen, last {(item['last_reply_seen_at'] or '')[:16]}"


@cli.command("sources")
@CONFIG_OPTION
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def sources_command(config_path: Path | None, db_path: Path | None, fmt: str) -> None:
    """Health of every source: state, last success and error, failures, mentions in 24 h, replies shown and seen."""
    from connectors.registry import connector_class

    settings = load_settings(config_path, required=False)
    store = open_store(settings, config_path, db_path)
    now = datetime.now(UTC)
    try:
        rows = {row["source"]: row for row in store.health()}
        names = list(dict.fromkeys([*settings.connectors, *rows]))
        report = []
        for name in names:
            row = rows.get(name, {})
            config = settings.connectors.get(name)
            cls = connector_class(config.type) if config else None
            activity = store.source_activity(name, now)
            shows = bool(getattr(cls, "can_see_replies", True)) if cls else None
            # Seen means seen: a source that never polled successfully has shown us nothing.
            polled = bool(row.get("last_success"))
            seen, last_seen = _replies_seen(store, name) if shows and polled else (None, None)
            report.append({
                "source": name,
                "type": config.type if config else None,
                "enabled": bool(config.enabled) if config else None,
                "state": row.get("state") or "never polled",
                "last_success": row.get("last_success"),
                "last_error": row.get("last_error"),
                "last_error_at": row.get("last_error_at"),
                "consecutive_failures": row.get("consecutive_failures") or 0,
                "rate_limited_until": row.get("rate_limited_until"),
                "next_retry": row.get("retry_at"),
                "mentions_24h": activity["last_24h"],
                "platform_shows_replies": shows,
                "replies_seen": seen,
                "last_reply_seen_at": last_seen,
                # What the platform lets the connector see, and what it never shows (docs/sources-*.md).
                "shows": list(getattr(cls, "shows", ())) if cls else [],
                "cannot_show": list(getattr(cls, "hides", ())) if cls else [],
            })
    finally:
        store.close()
    if fmt == "json":
        for item in report:
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Sources")
    for column in ("source", "type", "state", "last success", "failures", "24h", "replies", "cannot show", "last error"):
        table.add_column(column, overflow="fold")
    for item in report:
        style = {"up": "green", "down": "red", "auth_failed": "red"}.get(item["state"], "yellow")
        table.add_row(
            item["source"], item["type"] or "-", f"[{style}]{item['state']}[/]",
            (item["last_success"] or "-")[:19], str(item["consecutive_failures"]), str(item["mentions_24h"]),
            _replies_cell(item), "; ".join(item["cannot_show"]), item["last_error"] or "",
        )
    Console().print(table)


@cli.command("demo")
@click.option("--seconds", type=float, default=110.0, show_default=True, help="How long the live part runs.")
@click.option(
    "--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Keep the demo database here, with a matching config (same name, .toml) to explore it.",
)
def demo_command(seconds: float, database: Path | None) -> None:
    """Replay the bundled sample through the real model and pipeline, with a live view."""
    from listener.demo import run_demo

    sys.exit(run_demo(seconds=seconds, database=database))


def _register_commands() -> None:
    # Each command family lives next to the code it drives; the CLI only collects them.
    from listener.analytics.commands import COMMANDS as ANALYTICS
    from listener.sla_commands import COMMANDS as SLA
    from listener.worker import worker_command
    from models.commands import classify_command, model_group

    cli.add_command(classify_command, "classify")
    cli.add_command(model_group, "model")
    cli.add_command(worker_command, "worker")
    for command in (*ANALYTICS, *SLA):
        cli.add_command(command)


_register_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (for tests)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="listener", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code or 0)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except sqlite3.Error as err:
        # A read-only mount, a full disk, a file that is not a database: one line, no traceback.
        click.echo(f"error: the database cannot be used: {err} (check the path in [listener] database, "
                   "that it and its directory are writable, and free disk space)", err=True)
        return 1
    except SystemExit as done:
        return int(done.code or 0) if isinstance(done.code, int) or done.code is None else 1
    return 0
