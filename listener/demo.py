"""`listener demo`: replay the bundled sample through the real model and pipeline, live."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from config.loader import parse_config
from config.schema import Settings
from config.types import format_duration
from listener.daemon import Daemon
from listener.logging_setup import setup_logging
from listener.store import SyncStore
from listener.timefmt import human_duration, parse_iso

logger = logging.getLogger(__name__)

# The bundled file is written around this instant; the demo maps it to "now".
DEMO_T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SENTIMENT_STYLE = {"negative": "red", "neutral": "white", "positive": "green"}


def shifted_sample(target: Path, now: datetime) -> int:
    """Write the bundled sample with every timestamp moved so that T0 becomes `now`."""
    offset = now - DEMO_T0
    source = resources.files("listener").joinpath("demo_data/mentions.jsonl")
    count = 0
    with source.open("r", encoding="utf-8") as inp, target.open("w", encoding="utf-8") as out:
        for line in inp:
            if not line.strip():
                continue
            record = json.loads(line)
            created = parse_iso(record["created_at"])
            assert created is not None
            record["created_at"] = (created + offset).isoformat()
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def demo_settings(workdir: Path, sample: Path, database: Path | None) -> Settings:
    """The demo's configuration: one replayed JSONL source, two brands, Slack if configured."""
    data: dict[str, Any] = {
        "listener": {"database": str(database or workdir / "demo.db"), "shutdown_grace": "5s"},
        "classifier": {"batch_size": 32, "max_wait": "100ms"},
        "sla": {"target": "60m", "warn_after": "45m", "sweep_interval": "2s"},
        "brands": {
            "acme": {
                "keywords": ["acme", "acmemobile", "#acme", "アクメ"],
                "handles": {"demo": ["@AcmeSupport", "@acme_jp"]},
            },
            "globex": {
                "keywords": ["globex", "#globex", "グローベックス"],
                "handles": {"demo": ["@GlobexCare"]},
                "competitor": True,
            },
        },
        "connectors": {"demo": {"type": "jsonl", "path": str(sample), "replay": True, "poll_interval": "1s",
                                "jitter": "0s"}},
        "alerts": {"dispatch_interval": "1s", "console": {"enabled": True}},
    }
    if os.environ.get("SLACK_WEBHOOK_URL"):
        data["alerts"]["slack"] = {"webhook_url": "${SLACK_WEBHOOK_URL}"}
    return parse_config(data)


_CONFIG_MARK = "# Written by `listener demo`"


def explore_config_text(settings: Settings) -> str:
    """A config for the kept demo database: its path, the SLA target and the brands (competitor flag kept).

    No connectors: the replayed sample lived in a temporary folder. Hand-written TOML, because
    strings dumped as JSON (ASCII, escaped) are valid TOML basic strings.
    """
    lines = [
        f"{_CONFIG_MARK}: the analyst commands and the dashboard read the demo database with it.",
        "",
        "[listener]",
        f"database = {json.dumps(str(settings.listener.database.resolve()))}",
        "",
        "[sla]",
        f'target = "{format_duration(settings.sla.target)}"',
        f'warn_after = "{format_duration(settings.sla.warn_after)}"',
    ]
    for name, brand in settings.brands.items():
        lines += ["", f"[brands.{json.dumps(name)}]", f"keywords = {json.dumps(list(brand.keywords))}"]
        lines.append(f"competitor = {'true' if brand.competitor else 'false'}")
    return "\n".join(lines) + "\n"


def write_explore_config(settings: Settings, database: Path) -> Path | None:
    """Write `<database>.toml` beside a kept demo database; None when a file not written by us is there."""
    path = database.with_suffix(".toml")
    if path.exists() and not path.read_text(encoding="utf-8", errors="replace").startswith(_CONFIG_MARK):
        return None
    path.write_text(explore_config_text(settings), encoding="utf-8")
    return path


def explore_hint(database: Path | None, config: Path | None) -> str:
    """What to run next: where the database is and the commands that explore it."""
    if database is None:
        return (
            "The demo database was temporary and is gone. Keep one to explore with "
            "`listener demo --database demo.db` (it also writes demo.toml beside it)."
        )
    if config is None:
        return (
            f"Demo database: {database}. {database.with_suffix('.toml')} exists and was not written by the demo, "
            f"so it was left alone; explore with --db {database} (competitors are then not marked)."
        )
    option = f"--config {config}"
    return "\n".join([
        f"Demo database: {database}",
        f"Its config:    {config} (brands with the competitor flag)",
        "Explore it:",
        f"  listener complaints {option} --open",
        f"  listener trends {option} --every day --by brand",
        f"  listener sla-report {option} --by brand",
        f"  listener query {option} \"SELECT brand, COUNT(*) FROM v_complaints GROUP BY brand\"",
        f"  listener api {option}    (dashboard on http://127.0.0.1:8787/)",
    ])


def _age(seconds: float) -> str:
    """`4m02s`, `1h05m`: ages and times left in the live view."""
    return human_duration(seconds, seconds=True)


async def _render(daemon: Daemon, remaining: float) -> Group:
    store = daemon.store
    now = daemon.clock.now()
    counts = await store.call(SyncStore.counts)
    mentions = await store.call(SyncStore.recent_mentions, 8)
    clocks = await store.call(SyncStore.complaints, open_only=True, limit=10)
    events = await store.call(SyncStore.recent_events, 8)

    head = Text.assemble(
        ("listener demo ", "bold"),
        f"- {counts['mentions']} mentions, {counts['classified']} classified, {counts['complaints']} complaints, ",
        (f"{counts['open']} open clocks", "yellow"),
        ", ",
        (f"{counts['breached']} breached", "red"),
        f"  ({remaining:.0f}s left)",
    )
    t_mentions = Table(title="Latest mentions", expand=True)
    for col in ("when", "author", "sentiment", "complaint", "text"):
        t_mentions.add_column(col, overflow="ellipsis", no_wrap=True)
    for m in mentions:
        when = parse_iso(m["created_at"])
        label = m["sentiment"] or f"unscored ({m['unscored_reason']})"
        t_mentions.add_row(
            _age((now - when).total_seconds()) if when else "",
            m["author"],
            Text(label, style=SENTIMENT_STYLE.get(m["sentiment"] or "", "dim")),
            Text("yes", style="bold red") if m["complaint"] else "",
            Text(m["text"].replace("\n", " ")[:90]),
        )
    t_clocks = Table(title="Open response clocks (target 60 min)", expand=True)
    for col in ("brand", "author", "age", "left", "state", "text"):
        t_clocks.add_column(col, overflow="ellipsis", no_wrap=True)
    for c in clocks:
        left = (c.deadline - now).total_seconds()
        style = "red" if left <= 0 else "yellow" if now >= c.warn_at else "green"
        t_clocks.add_row(
            c.brand, c.author, _age((now - c.opened_at).total_seconds()), Text(_age(left), style=style),
            Text("BREACHED" if left <= 0 else "warning" if now >= c.warn_at else "running", style=style),
            Text(c.text.replace("\n", " ")[:70]),
        )
    t_alerts = Table(title="Alerts", expand=True)
    for col in ("kind", "brand", "author", "delivered", "text"):
        t_alerts.add_column(col, overflow="ellipsis", no_wrap=True)
    for e in events:
        payload = json.loads(e["payload"])
        style = {"breach": "red", "warn": "yellow", "replied": "green"}.get(e["kind"], "white")
        t_alerts.add_row(
            Text(e["kind"], style=style), e["brand"], payload.get("author", ""),
            f"{e['delivered'] or 0}/{e['sinks']}", Text(payload.get("text", "").replace("\n", " ")[:70]),
        )
    return Group(Panel(head), t_mentions, t_clocks, t_alerts)


def _summary_table(summary: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Response times (complaints)")
    for col in ("brand", "complaints", "answered", "within 60 min", "median", "p90", "breaches", "still open"):
        table.add_column(col, justify="right")
    for brand, s in summary.items():
        fmt = lambda v: "-" if v is None else _age(v)  # noqa: E731
        table.add_row(
            brand, str(s["complaints"]), str(s["replied"]), str(s["within_target"]),
            fmt(s["median_response_s"]), fmt(s["p90_response_s"]), str(s["breaches"]), str(s["open"]),
        )
    return table


async def _demo(seconds: float, database: Path | None, console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="listener-demo-") as tmp:
        workdir = Path(tmp)
        if database and database.exists():
            database.unlink()
        sample = workdir / "sample.jsonl"
        count = shifted_sample(sample, datetime.now(UTC))
        settings = demo_settings(workdir, sample, database)
        console.print(f"Replaying {count} bundled mentions; loading the classifier (first run converts the model)...")
        daemon = Daemon(settings, console=console)
        runner = asyncio.create_task(daemon.run())
        await daemon.started.wait()
        deadline = asyncio.get_running_loop().time() + seconds
        with Live(await _render(daemon, seconds), console=console, refresh_per_second=2, transient=False) as live:
            while not runner.done():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(1.0, remaining))
                live.update(await _render(daemon, max(remaining, 0)))
        per_brand = {b: await daemon.store.call(SyncStore.response_summary, b) for b in settings.brands}
        counts = await daemon.store.call(SyncStore.counts)
        daemon.stop()
        summary = await runner
    console.print(_summary_table(per_brand))
    console.print(
        f"{counts['mentions']} mentions, {counts['classified']} classified, {counts['complaints']} complaints, "
        f"{counts['breached']} breaches, {summary.delivered} alert deliveries."
    )
    console.print(summary.line())
    kept = database.resolve() if database is not None else None
    config = write_explore_config(settings, kept) if kept is not None else None
    console.print(explore_hint(kept, config), soft_wrap=True)
    return 0


def run_demo(*, seconds: float = 110.0, database: Path | None = None) -> int:
    """Run the demo; returns the exit status."""
    setup_logging("WARNING")
    console = Console()
    return asyncio.run(_demo(seconds, database, console))
