"""`listener sources` and `poll`: the health of every source, and one poll of one connector."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from listener.cli.common import CONFIG_OPTION, DB_OPTION, load_settings, open_store

if TYPE_CHECKING:
    from listener.store import SyncStore


@click.command("poll")
@CONFIG_OPTION
@DB_OPTION
@click.argument("name")
@click.option("--once", is_flag=True, required=True, help="Poll one time (the only mode for now).")
@click.option("--dry-run", is_flag=True, help="Print mapped mentions as JSON lines; store nothing.")
def poll_command(config_path: Path | None, db_path: Path | None, name: str, once: bool, dry_run: bool) -> None:
    """Poll one connector once and print what it maps (the developer loop)."""
    import asyncio

    from listener.errors import ConfigError, SourceError
    from listener.logging_setup import setup_logging
    from listener.probe import poll_once
    from listener.redact import redact

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


@click.command("sources")
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
    columns = ("source", "type", "state", "last success", "failures", "24h", "replies", "cannot show", "last error")
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in report:
        style = {"up": "green", "down": "red", "auth_failed": "red"}.get(item["state"], "yellow")
        table.add_row(
            item["source"], item["type"] or "-", f"[{style}]{item['state']}[/]",
            (item["last_success"] or "-")[:19], str(item["consecutive_failures"]), str(item["mentions_24h"]),
            _replies_cell(item), "; ".join(item["cannot_show"]), item["last_error"] or "",
        )
    Console().print(table)
