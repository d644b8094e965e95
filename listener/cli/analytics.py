"""Analyst commands: `listener trends`, `sla-report`, `query`, `export` and `api` (the read side)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from listener.analytics.db import DatabaseMissing, QueryRefused, connect_readonly, ensure_schema
from listener.analytics.export import FORMATS, ExportError, export
from listener.analytics.filters import EVERY, FilterError, Filters, build_filters
from listener.cli.common import config_option, database_path, db_option, load_settings, offline_router

F = TypeVar("F", bound=Callable[..., Any])

_DB_HELP = "SQLite file to read (default: the config's listener.database, or $LISTENER_DB)."


def _common(fn: F) -> F:
    """--config and --db: which database to read."""
    return config_option()(db_option(_DB_HELP)(fn))


def _filters(default_since: str | None) -> Callable[[F], F]:
    """--since/--until/--brand/--source/--language, shared by every report."""

    def wrap(fn: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--since",
                    default=default_since,
                    show_default=True,
                    help="Start: a date, a UTC datetime, or a duration back from now (90d, 12w).",
                ),
                click.option("--until", default=None, help="End (exclusive), same forms as --since; default: open."),
                click.option("--brand", "brands", multiple=True, help="Only these brands (repeatable)."),
                click.option("--source", "sources", multiple=True, help="Only these connectors (repeatable)."),
                click.option("--language", "languages", multiple=True, help="Only these languages (repeatable)."),
            ]
        ):
            fn = option(fn)
        return fn

    return wrap


@contextlib.contextmanager
def _open(config_path: Path | None, db_path: Path | None) -> Iterator[tuple[Any, frozenset[str]]]:
    """A read-only connection and the competitor brand names from the config (its connectors are not read)."""
    settings = load_settings(config_path, required=False, connectors=False)
    path = database_path(settings, config_path, db_path)
    competitors = frozenset(name for name, brand in settings.brands.items() if brand.competitor)
    try:
        ensure_schema(path)
        conn = connect_readonly(path)
    except DatabaseMissing as err:
        raise click.ClickException(str(err)) from None
    try:
        yield conn, competitors
    finally:
        conn.close()


def _build(
    since: str | None,
    until: str | None,
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    align: str | None,
) -> Filters:
    try:
        return build_filters(since=since, until=until, brands=brands, sources=sources, languages=languages, align=align)
    except FilterError as err:
        raise click.BadParameter(str(err)) from None


def _groups(by: tuple[str, ...], group: tuple[str, ...]) -> tuple[str, ...]:
    """--by and its alias --group together, in the order given, each once."""
    return tuple(dict.fromkeys((*by, *group)))


def _emit(report: dict[str, Any], fmt: str, table: Callable[[dict[str, Any], Any], None]) -> None:
    from listener.analytics import render

    if fmt == "json":
        render.write_json(report, sys.stdout)
    elif fmt == "csv":
        render.write_csv(report, sys.stdout)
    else:
        from rich.console import Console

        table(report, Console())


@click.command("trends")
@_common
@_filters("30d")
@click.option("--every", type=click.Choice(EVERY), default="day", show_default=True, help="Period (UTC).")
@click.option(
    "--by", "by", multiple=True, type=click.Choice(["brand", "source", "language"]), help="Group by (repeatable)."
)
@click.option(
    "--group", "group", multiple=True, type=click.Choice(["brand", "source", "language"]), help="Same as --by."
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw negative share and complaint rate to this PNG.",
)
def trends_command(
    config_path: Path | None,
    db_path: Path | None,
    since: str | None,
    until: str | None,
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    every: str,
    by: tuple[str, ...],
    group: tuple[str, ...],
    fmt: str,
    chart: Path | None,
) -> None:
    """Sentiment shares and complaint rate per hour/day/week/month, by brand, source or language."""
    from listener.analytics import render
    from listener.analytics.trends import trends

    filters = _build(since, until, brands, sources, languages, every)
    with _open(config_path, db_path) as (conn, _competitors):
        try:
            report = trends(conn, every=every, by=_groups(by, group), filters=filters)
        except FilterError as err:
            raise click.BadParameter(str(err)) from None
    _emit(report, fmt, render.trends_table)
    if chart is not None:
        from listener.analytics.chart import NoData, draw_trends

        try:
            draw_trends(report, chart)
        except NoData as err:
            click.echo(str(err), err=True)
            return
        except RuntimeError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"chart written to {chart}", err=True)


@click.command("sla-report")
@_common
@_filters("30d")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(["brand", "source", "policy", "assignee", "language"]),
    help="Group by (repeatable; default: brand).",
)
@click.option(
    "--group",
    "group",
    multiple=True,
    type=click.Choice(["brand", "source", "policy", "assignee", "language"]),
    help="Same as --by.",
)
@click.option("--every", type=click.Choice(EVERY), default=None, help="Also split per period (UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def sla_report_command(
    config_path: Path | None,
    db_path: Path | None,
    since: str | None,
    until: str | None,
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    by: tuple[str, ...],
    group: tuple[str, ...],
    every: str | None,
    fmt: str,
) -> None:
    """Response rate, median/p90 first response (business time and wall clock), share within target, breaches."""
    from listener.analytics import render
    from listener.analytics.sla import sla_report

    filters = _build(since, until, brands, sources, languages, every or "day")
    with _open(config_path, db_path) as (conn, competitors):
        report = sla_report(
            conn, by=_groups(by, group) or ("brand",), every=every, filters=filters, competitors=competitors
        )
    _emit(report, fmt, render.sla_table)


@click.command("query")
@_common
@click.argument("sql", required=False)
@click.option(
    "-f",
    "--file",
    "sql_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read the statement from this file ('-' for standard input).",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    help="Bound parameter: name=value (text), name:int=10, name:float=0.5. Use :name in the SQL.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "jsonl"]), default="table", show_default=True
)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Give up after this many seconds.")
def query_command(
    config_path: Path | None,
    db_path: Path | None,
    sql: str | None,
    sql_file: Any,
    params: tuple[str, ...],
    fmt: str,
    timeout: float,
) -> None:
    """Run one read-only SQL statement (writes, ATTACH and state-changing pragmas are refused)."""
    if (sql is None) == (sql_file is None):
        raise click.UsageError("give the SQL as an argument or with --file (one of them)")
    if sql_file is not None:
        sql = sql_file.read()
    assert sql is not None
    from listener.analytics.export import write_csv, write_jsonl
    from listener.analytics.query import parse_params, run_query

    try:
        bound = parse_params(params)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--param") from None
    with _open(config_path, db_path) as (conn, _competitors):
        conn.set_progress_handler(_deadline(timeout), 10_000)
        try:
            result = run_query(conn, sql, bound)
            if fmt == "csv":
                write_csv(result.columns, result.rows, sys.stdout)
            elif fmt == "jsonl":
                write_jsonl(result.columns, result.rows, sys.stdout)
            elif fmt == "json":
                rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
                click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            else:
                _query_table(result.columns, list(result.rows))
        except QueryRefused as err:
            raise click.ClickException(str(err)) from None
        except sqlite3.OperationalError as err:  # e.g. interrupted by --timeout while streaming rows
            raise click.ClickException(f"SQL error: {err}") from None


def _deadline(seconds: float) -> Callable[[], int]:
    import time

    end = time.monotonic() + seconds
    return lambda: int(time.monotonic() > end)


def _query_table(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(caption=f"{len(rows)} rows")
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    Console().print(table)


@click.command("export")
@_common
@click.argument("what", type=click.Choice(["mentions", "complaints"]))
@_filters(None)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: standard output; required for parquet).",
)
@click.option(
    "--state", type=click.Choice(["open", "replied", "acknowledged"]), default=None, help="Complaints only: this state."
)
def export_command(
    config_path: Path | None,
    db_path: Path | None,
    what: str,
    since: str | None,
    until: str | None,
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
    fmt: str,
    output: Path | None,
    state: str | None,
) -> None:
    """Export mentions (with labels) or complaint clocks as CSV, JSON Lines or Parquet."""
    from listener.analytics.listing import iter_complaints, iter_mentions

    filters = _build(since, until, brands, sources, languages, None)
    with _open(config_path, db_path) as (conn, _competitors):
        columns, rows = iter_mentions(conn, filters) if what == "mentions" else iter_complaints(conn, filters, state)
        try:
            count = export(columns, rows, fmt, output, sys.stdout)
        except ExportError as err:
            raise click.ClickException(str(err)) from None
    if output is not None:
        click.echo(f"{count} {what} written to {output}", err=True)


@click.command("api")
@_common
@click.option("--host", default=None, help="Bind address (default: [api].host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [api].port).")
def api_command(config_path: Path | None, db_path: Path | None, host: str | None, port: int | None) -> None:
    """Serve the REST API, dashboard and web queue on their own, without the daemon.

    Queue actions are recorded and their alerts queued for the configured sinks, as `listener ack`
    does; the daemon delivers them.
    """
    import asyncio

    from listener.api.server import start_api
    from listener.clock import SystemClock
    from listener.clocks import ClockEngine
    from listener.interact import ClockActions
    from listener.store import Store, SyncStore

    settings = load_settings(config_path, required=False)
    api = settings.api
    try:
        api = type(api).model_validate(
            {**api.model_dump(), **{k: v for k, v in {"host": host, "port": port}.items() if v is not None}}
        )
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    settings = settings.model_copy(update={"api": api})
    path = database_path(settings, config_path, db_path)
    try:
        ensure_schema(path)
    except DatabaseMissing as err:
        raise click.ClickException(str(err)) from None

    router = offline_router(settings)

    async def serve() -> None:
        store = await Store(path).open()
        await store.call(SyncStore.set_competitors, [n for n, b in settings.brands.items() if b.competitor])
        await store.call(SyncStore.set_engine, ClockEngine.from_settings(settings.sla))
        clock = SystemClock()
        try:
            runner = await start_api(settings, path, clock=clock, actions=ClockActions(store, router, clock.now))
            click.echo(f"listening on http://{api.host}:{api.port}/ (Ctrl-C to stop)", err=True)
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
        finally:
            await store.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())

