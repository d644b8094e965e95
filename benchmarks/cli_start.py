"""Start-up time of the `listener` command line: `python -m benchmarks.cli_start` (also part of `make bench`).

Each command runs in a fresh interpreter, as a user runs it, against a database the store wrote (a few
classified mentions and open complaints); the median of several runs is reported, with the number of
modules imported and which heavy ones came along. `python -m benchmarks.cli_start --root DIR` times
another checkout of the project (for a before/after comparison).
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
HEAVY = ("numpy", "sqlite_utils", "listener.store", "aiohttp", "connectors", "torch", "onnxruntime", "listener.daemon")
_PROBE = (
    "import sys, runpy; sys.argv = ['listener', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('listener', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "ours = [m for m in sys.modules if m.split('.')[0] in ('listener', 'connectors', 'models', 'alerts', 'config')]\n"
    f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
    "print('PROBE', len(sys.modules), len(ours), ','.join(heavy) or '-', file=sys.stderr)\n"
)


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LISTENER_CONFIG", "LISTENER_DB", "PYTHONPATH")}
    env["PYTHONPATH"] = str(root)
    return env


def _time(args: list[str], root: Path, cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run; CPU time varies less on a loaded machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "listener", *args], cwd=cwd, env=_env(root), capture_output=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _probe(args: list[str], root: Path, cwd: Path) -> tuple[int, int, str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, env=_env(root), capture_output=True,
                          text=True, check=True)
    _, modules, ours, heavy = next(line for line in done.stderr.splitlines() if line.startswith("PROBE")).split()
    return int(modules), int(ours), heavy


def _database(path: Path) -> None:
    """A small database written by the store: 20 mentions, half of them open complaints."""
    from listener.domain import Mention, Sentiment
    from listener.store import SyncStore
    from models.base import Classification

    store = SyncStore(path)
    now = datetime.now(UTC)
    mentions = [Mention(source="social", external_id=str(i), text=f"acme order {i} is late", author=f"@u{i}",
                        created_at=now - timedelta(minutes=5 * i), brands=("acme",)) for i in range(20)]
    store.ingest("social", mentions, [], None, now)
    store.save_classifications([
        (m, Classification(model_id="bench", scored=True, sentiment=Sentiment.NEGATIVE, complaint=i % 2 == 0,
                           p_complaint=0.9 if i % 2 == 0 else 0.1))
        for i, m in enumerate(mentions)
    ], now)
    store.close()


def cpu_name() -> str:
    """The CPU model, as `lscpu | grep 'Model name'` shows it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(root: Path = ROOT) -> list[str]:
    """One markdown table row per command line, timed against the checkout at `root`."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)  # no listener.toml here: only what each command line names is read
        database = cwd / "listener.db"
        _database(database)
        example = ROOT / "config" / "listener.example.toml"
        commands = [
            ["--help"],
            ["query", "--db", str(database), "SELECT count(*) FROM v_complaints"],
            ["sla-report", "--db", str(database)],
            ["trends", "--db", str(database)],
            ["complaints", "--db", str(database)],
            ["query", "--config", str(example), "--db", str(database), "SELECT 1"],
        ]
        rows = []
        for args in commands:
            _time(args, root, cwd)  # warm the file cache
            runs = [_time(args, root, cwd) for _ in range(RUNS)]
            times, cpu = [wall for wall, _ in runs], [used for _, used in runs]
            modules, ours, heavy = _probe(args, root, cwd)
            shown = shlex.join({str(database): "DB", str(example): "config/listener.example.toml"}.get(a, a)
                               for a in args)
            rows.append(f"| `listener {shown}` | {statistics.median(times):.2f} s (min {min(times):.2f}) "
                        f"| {statistics.median(cpu):.2f} s | {modules} ({ours} ours) | {heavy.replace(',', ', ')} |")
    return rows


def run() -> str:
    """The markdown section: median wall time per command line."""
    return "\n".join([
        "## CLI start-up (issue 17)",
        "",
        f"`python -m benchmarks.cli_start`: median of {RUNS} fresh interpreters per command line (target < 1 s),",
        f"on {cpu_name()}. DB: a database the store wrote (20 mentions, 10 open complaints); no config file",
        "unless one is named. Heavy modules watched: " + ", ".join(f"`{m}`" for m in HEAVY) + ".",
        "Wall time follows the machine's load (see the stamp below); CPU time (user + system) is the steadier",
        "figure for comparing runs.",
        "",
        "| command | wall time | CPU time | modules imported | heavy modules loaded |",
        "|---|---|---|---|---|",
        *measure(),
        "",
        "The read commands skip the `[connectors.*]` tables (validating one imports its connector module and",
        "aiohttp), so a full config costs only the rest of the schema (last row). `complaints` reads through",
        "the store, which brings sqlite-utils and with it numpy.",
    ])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--root"]:
        print("\n".join(measure(Path(sys.argv[2]).resolve())))
    else:
        print(run())
