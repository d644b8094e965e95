"""`make bench`: run every benchmark section and rewrite docs/benchmarks.md."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = ["benchmarks.pipeline", "benchmarks.model_speed", "benchmarks.analytics", "benchmarks.sla", "benchmarks.pool"]
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def main() -> int:
    """Run the sections named on the command line (default: all) and write the document."""
    wanted = sys.argv[1:] or SECTIONS
    parts = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`.venv/bin/python -m benchmarks.run`), which rewrites this file.",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}.",
        "",
    ]
    for name in wanted:
        print(f"running {name} ...", flush=True)
        parts.append(importlib.import_module(name).run())
    DOC.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
