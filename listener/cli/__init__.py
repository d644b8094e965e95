"""The `listener` command line: the click group, its lazily registered command families, and `main`.

Each family lives in its own module (listener/cli/<family>.py) and imports only listener.cli.common;
the group names commands by dotted path and imports a module when one of its commands is needed.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Sequence
from typing import Any

import click

# command name -> "module:attribute"; `listener --help` imports these light modules, never the daemon.
COMMANDS: dict[str, str] = {
    "check-config": "listener.cli.run:check_config",
    "run": "listener.cli.run:run_command",
    "health": "listener.cli.run:health_command",
    "complaints": "listener.cli.clocks:complaints_command",
    "ack": "listener.cli.clocks:ack_command",
    "label": "listener.cli.clocks:label_command",
    "sources": "listener.cli.sources:sources_command",
    "poll": "listener.cli.sources:poll_command",
    "demo": "listener.cli.demo:demo_command",
    "mute": "listener.cli.sla:mute_command",
    "unmute": "listener.cli.sla:unmute_command",
    "alerts": "listener.cli.sla:alerts_group",
    "backtest": "listener.cli.sla:backtest_command",
    "trends": "listener.cli.analytics:trends_command",
    "sla-report": "listener.cli.analytics:sla_report_command",
    "query": "listener.cli.analytics:query_command",
    "export": "listener.cli.analytics:export_command",
    "api": "listener.cli.analytics:api_command",
    "classify": "listener.cli.models:classify_command",
    "model": "listener.cli.models:model_group",
    "worker": "listener.cli.worker:worker_command",
}


def load_command(path: str) -> click.Command:
    """The click command at `module:attribute`."""
    module_name, _, attribute = path.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{path} is not a click command")
    return command


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use, by dotted path."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, eager and lazy, sorted (click's order)."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time it is asked for."""
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(load_command(self.lazy_commands[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(package_name="listener")
def cli() -> None:
    """Social listening and response-time monitoring daemon."""


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
