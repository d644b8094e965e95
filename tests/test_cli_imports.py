"""What the read commands import (issue 17): `listener query` and the reports start without the daemon's weight.

Each command runs in a fresh interpreter against a real database; the test names the modules that must
stay out (no timings here: start-up time is a benchmark, benchmarks/cli_start.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from listener.domain import Mention, Sentiment
from listener.migrations import migrations, pending_names
from listener.store import SyncStore
from models.base import Classification

ROOT = Path(__file__).resolve().parents[1]

# Run the CLI as `python -m listener ARGS`, then report every imported module as JSON on stderr.
_PROBE = (
    "import json, runpy, sys\n"
    "sys.argv = ['listener', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('listener', run_name='__main__')\n"
    "except SystemExit as done:\n"
    "    code = done.code\n"
    "else:\n"
    "    code = 0\n"
    "print('MODULES', json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    "sys.exit(code)\n"
)

# Never on a read command: the HTTP client, the model runtimes, the plugin packages, the daemon.
NEVER = ("aiohttp", "torch", "onnxruntime", "transformers", "tokenizers", "slack_sdk", "aiomqtt",
         "connectors", "alerts", "listener.daemon", "listener.dispatch", "listener.poller", "listener.api")
# Not on `--help`, `query` and the reports either: sqlite-utils (which loads numpy) and the store.
NOT_ON_READS = (*NEVER, "numpy", "sqlite_utils", "listener.store", "models")


def _loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def run_cli(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`python -m listener ARGS` in a fresh interpreter in `cwd` (no config there), and what it imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("LISTENER_CONFIG", "LISTENER_DB")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    line = next((ln for ln in done.stderr.splitlines() if ln.startswith("MODULES ")), None)
    assert line is not None, done.stderr[-2000:]
    return done, json.loads(line.removeprefix("MODULES "))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database the daemon's store wrote: one open complaint and one praise."""
    path = tmp_path_factory.mktemp("cli_imports") / "listener.db"
    store = SyncStore(path)
    now = datetime.now(UTC)
    complaint = Mention(source="social", external_id="1", text="acme lost my parcel", author="@ann",
                        created_at=now - timedelta(minutes=20), brands=("acme",))
    praise = Mention(source="social", external_id="2", text="acme is lovely", author="@bob",
                     created_at=now - timedelta(minutes=5), brands=("acme",))
    store.ingest("social", [complaint, praise], [], None, now)
    bad = Classification(model_id="t", scored=True, sentiment=Sentiment.NEGATIVE, complaint=True, p_complaint=0.9)
    good = Classification(model_id="t", scored=True, sentiment=Sentiment.POSITIVE, complaint=False, p_complaint=0.1)
    store.save_classifications([(complaint, bad), (praise, good)], now)
    store.close()
    return path


def test_query_imports_no_http_client_model_runtime_plugin_or_store(database: Path, tmp_path: Path) -> None:
    done, modules = run_cli(["query", "--db", str(database), "--format", "json",
                             "SELECT count(*) AS n FROM v_complaints"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [{"n": 1}]
    assert _loaded(modules, NOT_ON_READS) == []


@pytest.mark.parametrize(
    "args",
    [["--help"], ["sla-report", "--format", "json"], ["trends", "--format", "json"], ["query", "--help"]],
    ids=["help", "sla-report", "trends", "query-help"],
)
def test_help_and_reports_import_no_heavy_module(args: list[str], database: Path, tmp_path: Path) -> None:
    command = [*args, "--db", str(database)] if args[0] in ("sla-report", "trends") else args
    done, modules = run_cli(command, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _loaded(modules, NOT_ON_READS) == []


def test_query_with_a_full_config_reads_no_connector_module(database: Path, tmp_path: Path) -> None:
    """The example config declares every connector type: validating those tables would import them all."""
    example = ROOT / "config" / "listener.example.toml"
    done, modules = run_cli(["query", "--config", str(example), "--db", str(database), "--format", "json",
                             "SELECT count(*) AS n FROM mentions"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [{"n": 2}]
    assert _loaded(modules, NOT_ON_READS) == []


def test_read_commands_skip_the_connector_tables_that_the_daemon_validates(database: Path, tmp_path: Path) -> None:
    from config.loader import parse_config
    from listener.errors import ConfigError

    data = {"connectors": {"feed": {"type": "mastodon", "no_such_key": 1}}, "brands": {"acme": {"keywords": ["acme"]}}}
    with pytest.raises(ConfigError, match="connectors.feed.no_such_key"):
        parse_config(data)
    assert parse_config(data, connectors=False).connectors == {}
    config = tmp_path / "listener.toml"
    config.write_text('[connectors.feed]\ntype = "mastodon"\nno_such_key = 1\n', encoding="utf-8")
    done, _ = run_cli(["query", "--db", str(database), "SELECT 1"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    done, _ = run_cli(["check-config"], tmp_path)
    assert done.returncode == 2 and "connectors.feed.no_such_key" in done.stderr


def test_complaints_reads_through_the_store_but_never_the_daemon_side(database: Path, tmp_path: Path) -> None:
    done, modules = run_cli(["complaints", "--db", str(database), "--format", "json"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[0])["mention"]
    assert _loaded(modules, NEVER) == []


def test_the_probe_sees_a_heavy_import(database: Path, tmp_path: Path) -> None:
    """The check itself: a command that does load sqlite-utils is seen doing so."""
    _, modules = run_cli(["complaints", "--db", str(database), "--format", "json"], tmp_path)
    assert "sqlite_utils" in modules and "listener.store" in modules


@pytest.mark.parametrize("state", ["empty file", "first migration only", "current"])
def test_the_light_pending_check_agrees_with_sqlite_utils(tmp_path: Path, state: str) -> None:
    """`pending_names` reads the migration table with the standard library; sqlite-utils must read the same."""
    path = tmp_path / "listener.db"
    path.touch()
    db = Database(path)
    if state == "first migration only":
        migrations.apply(db, stop_before=migrations.names[1])
    elif state == "current":
        migrations.apply(db)
    try:
        expected = migrations.pending(db)
    finally:
        db.close()
    assert pending_names(path) == expected
    assert len(expected) == {"empty file": len(migrations.names), "first migration only": len(migrations.names) - 1,
                             "current": 0}[state]
