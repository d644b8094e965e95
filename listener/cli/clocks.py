"""`listener complaints`, `ack` and `label`: the response clocks of complaints, by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from listener.cli.common import CONFIG_OPTION, DB_OPTION, database_path, load_settings, offline_router, open_store
from listener.timefmt import human_duration


def _age(seconds: float) -> str:
    """`4m02s`, `1h05m`: how long a clock has run (or has left)."""
    return human_duration(seconds, seconds=True)


def _time_left(seconds: float) -> str:
    """Time to the deadline as `40m12s left`, or past it as `overdue 2h12m`."""
    return f"overdue {_age(-seconds)}" if seconds < 0 else f"{_age(seconds)} left"


@click.command("complaints")
@CONFIG_OPTION
@DB_OPTION
@click.option("--open", "open_only", is_flag=True, help="Only complaints whose clock is running.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--limit", type=int, default=200, show_default=True)
def complaints_command(config_path: Path | None, db_path: Path | None, open_only: bool, fmt: str, limit: int) -> None:
    """List complaints with their age, deadline and state (--open: most urgent first, overdue at the top)."""
    settings = load_settings(config_path, required=False, connectors=False)
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
            state += f" in {_age(c.response_seconds)}"
        deadline = c.deadline.strftime("%Y-%m-%d %H:%M") + (f" ({_time_left(left)})" if c.state == "open" else "")
        table.add_row(
            c.mention_key, c.brand, c.author, _age((now - c.opened_at).total_seconds()), deadline, state,
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


@click.command("ack")
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


@click.command("label")
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
