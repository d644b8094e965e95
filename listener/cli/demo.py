"""`listener demo`: replay the bundled sample through the real model and pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("demo")
@click.option("--seconds", type=float, default=110.0, show_default=True, help="How long the live part runs.")
@click.option(
    "--database", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Keep the demo database here, with a matching config (same name, .toml) to explore it.",
)
def demo_command(seconds: float, database: Path | None) -> None:
    """Replay the bundled sample through the real model and pipeline, with a live view."""
    from listener.demo import run_demo

    sys.exit(run_demo(seconds=seconds, database=database))
