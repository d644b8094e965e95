"""Start-up time of the `listener` command line: `python -m benchmarks.cli_start` (also part of `make bench`).

Each command runs in a fresh interpreter, as a user runs it; the median of several runs is reported,
with the number of modules imported and whether the store, aiohttp or torch came along.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
_PROBE = (
    "import sys, runpy; sys.argv = ['listener', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('listener', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "ours = [m for m in sys.modules if m.split('.')[0] in ('listener', 'connectors', 'models', 'alerts', 'config')]\n"
    "heavy = [m for m in ('listener.store', 'aiohttp', 'torch', 'listener.daemon') if m in sys.modules]\n"
    "print('PROBE', len(sys.modules), len(ours), ','.join(heavy) or '-', file=sys.stderr)\n"
)


def _time(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "listener", *args], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - started


def _probe(args: list[str]) -> tuple[int, int, str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    _, modules, ours, heavy = next(line for line in done.stderr.splitlines() if line.startswith("PROBE")).split()
    return int(modules), int(ours), heavy


def run() -> str:
    """The markdown section: median wall time per command line."""
    from listener.store import SyncStore

    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "empty.db"
        SyncStore(database).close()
        commands = [["--help"], ["query", "--db", str(database), "SELECT 1"], ["complaints", "--help"]]
        rows = []
        for args in commands:
            _time(args)  # warm the file cache
            times = [_time(args) for _ in range(RUNS)]
            modules, ours, heavy = _probe(args)
            shown = " ".join(a if a != str(database) else "EMPTY.db" for a in args)
            rows.append(f"| `python -m listener {shown}` | {statistics.median(times):.2f} s (min {min(times):.2f}) "
                        f"| {modules} ({ours} ours) | {heavy} |")
    return "\n".join([
        "## CLI start-up (issue 17)",
        "",
        f"`python -m benchmarks.cli_start`: median of {RUNS} fresh interpreters per command line (target < 1 s);",
        "the query's extra modules are sqlite-utils (with numpy) for the schema check and the config schema.",
        "",
        "| command | wall time | modules imported | store / aiohttp / torch / daemon loaded |",
        "|---|---|---|---|",
        *rows,
    ])


if __name__ == "__main__":
    print(run())
