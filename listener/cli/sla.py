"""`listener mute`, `unmute`, `alerts stats` and `backtest`: the response-time engine's operator commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from listener.cli.common import CONFIG_OPTION, DB_OPTION, database_path, load_settings, open_configured_store
from listener.clock import Clock, SystemClock


def _clock(ctx: click.Context) -> Clock:
    """The clock in `ctx.obj["clock"]` (tests inject a FakeClock), else the system clock."""
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    clock = obj.get("clock")
    return clock if clock is not None else SystemClock()


def _scope(source: str | None, brand: str | None) -> tuple[str, str]:
    if (source is None) == (brand is None):
        raise click.UsageError("give exactly one of --source NAME or --brand NAME")
    return ("source", source) if source is not None else ("brand", brand)  # type: ignore[return-value]


@click.command("mute")
@CONFIG_OPTION
@DB_OPTION
@click.option("--source", default=None, help="Mute alerts from this source.")
@click.option("--brand", default=None, help="Mute alerts about this brand.")
@click.option("--for", "duration", default="1h", show_default=True, help='How long, e.g. "90m", "2h".')
@click.option("--by", default="cli", show_default=True, help="Who muted (stored).")
@click.pass_context
def mute_command(ctx: click.Context, config_path: Path | None, db_path: Path | None, source: str | None,
                 brand: str | None, duration: str, by: str) -> None:
    """Mute Slack/console alerts for a source or brand until the mute expires (MQTT still gets everything)."""
    from config.types import parse_duration

    scope, name = _scope(source, brand)
    try:
        span = parse_duration(duration)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--for") from err
    now = _clock(ctx).now()
    # A mute may come before the daemon's first run: the configured database may be created here.
    store = open_configured_store(config_path, db_path, create=True)
    try:
        store.add_mute(scope, name, now + span, by, now)
    finally:
        store.close()
    click.echo(f"{scope} {name} muted until {now + span:%Y-%m-%d %H:%M} UTC")


@click.command("unmute")
@CONFIG_OPTION
@DB_OPTION
@click.option("--source", default=None, help="Lift the mute of this source.")
@click.option("--brand", default=None, help="Lift the mute of this brand.")
def unmute_command(config_path: Path | None, db_path: Path | None, source: str | None, brand: str | None) -> None:
    """Lift a mute before it expires."""
    scope, name = _scope(source, brand)
    store = open_configured_store(config_path, db_path)
    try:
        removed = store.remove_mute(scope, name)
    finally:
        store.close()
    if not removed:
        raise click.ClickException(f"{scope} {name} was not muted")
    click.echo(f"{scope} {name} unmuted")


def _since(value: str | None, hint: str = "--since") -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=hint) from err
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@click.group("alerts")
def alerts_group() -> None:
    """Inspect the alerts the response-time engine sent."""


@alerts_group.command("stats")
@CONFIG_OPTION
@DB_OPTION
@click.option("--since", default=None, help="Only alerts created on or after this date (UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def stats_command(config_path: Path | None, db_path: Path | None, since: str | None, fmt: str) -> None:
    """Per rule: alerts fired, acted on (Slack buttons), replied after (within target), suppressed."""
    store = open_configured_store(config_path, db_path)
    try:
        rows = store.alert_stats(_since(since))
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no alerts")
        return
    click.echo(f"{'rule':<12} {'fired':>6} {'acted':>6} {'replied':>8} {'in target':>9} {'suppressed':>10}")
    for r in rows:
        click.echo(f"{r['rule']:<12} {r['fired']:>6} {r['acted_on']:>6} {r['replied_after']:>8} "
                   f"{r['replied_in_target']:>9} {r['suppressed']:>10}")



@click.command("backtest")
@CONFIG_OPTION
@DB_OPTION
@click.option("--from", "start", required=True, help="First day (UTC, YYYY-MM-DD or ISO-8601).")
@click.option("--to", "end", required=True, help="End of the period, exclusive (UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def backtest_command(
    ctx: click.Context, config_path: Path | None, db_path: Path | None, start: str, end: str, fmt: str
) -> None:
    """Replay stored mentions through the policies, ladder and listening rules (read-only): what would fire."""
    from listener.backtest import REPLAYED, backtest
    from listener.clocks import ClockEngine

    settings = load_settings(config_path, required=False)
    database = database_path(settings, config_path, db_path)
    since, until = _since(start, "--from"), _since(end, "--to")
    assert since is not None and until is not None
    if until <= since:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    engine = ClockEngine.from_settings(settings.sla, config_path.parent if config_path else None)
    report = backtest(
        database, engine, since, until,
        listening=settings.alerts.listening, policies=settings.sla.policies,
        # As the daemon: competitor brands are tracked but never alert.
        competitors=[name for name, brand in settings.brands.items() if brand.competitor],
        now=_clock(ctx).now(),  # hours not yet over and settled are not judged, as in the daemon
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    share = "n/a" if report.compliance is None else f"{report.compliance:.1%}"
    click.echo(f"clocks {report.clocks}: met {report.met}, missed {report.missed}, unanswered {report.unanswered}; "
               f"compliance {share}")
    for rule, count in sorted(report.fired.items()):
        click.echo(f"  would fire {rule}: {count}")
    for policy, counts in sorted(report.by_policy.items()):
        click.echo(f"  policy {policy}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if report.listening_status != REPLAYED:
        click.echo(f"listening rules: {report.listening_status}")
        return
    old = f", {report.too_old} too old when stored (max_age)" if report.too_old else ""
    click.echo(f"listening rules: {report.hours_judged} settled hours judged, "
               f"{report.mentions_checked} mentions checked{old}")
    for rule, counts in report.listening.items():
        click.echo(f"  {rule}: would fire {counts['fired']}, held back by cooldown {counts['held_back']}")
    if report.spike_examples:
        click.echo(f"  first {len(report.spike_examples)} spikes:")
    for ex in report.spike_examples:
        if ex.metric == "negative_share":
            what = f"{ex.value:.0%} negative of {ex.count} scored > threshold {ex.threshold:.1%}"
        else:
            what = f"{ex.count} mentions > threshold {ex.threshold:.3g}"
        held = " (held back)" if ex.held_back else ""
        click.echo(f"    {ex.hour:%Y-%m-%d %H:00} {ex.brand}/{ex.source} {ex.metric}: {what}{held}")

