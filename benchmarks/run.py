"""`make bench`: run the benchmark sections and record them in docs/benchmarks.md.

`python -m benchmarks.run` runs every section (about an hour: the soak alone takes 30 minutes);
`python -m benchmarks.run benchmarks.sla` reruns one and keeps the others' last results. Each
section sits between markers, is written as soon as it finishes, and a section that fails is
recorded as failed instead of losing the ones before it.
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = [
    "benchmarks.pipeline",
    "benchmarks.model_speed",
    "benchmarks.real_tweets",
    "benchmarks.analytics",
    "benchmarks.queue",
    "benchmarks.sla",
    "benchmarks.pool",
    "benchmarks.webhooks",
    "benchmarks.soak",
    "benchmarks.cli_start",
]
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
_SECTION = re.compile(r"<!-- begin (?P<name>[\w.]+) -->\n(?P<body>.*?)<!-- end (?P=name) -->\n", re.S)


def existing_sections(text: str) -> dict[str, str]:
    """The recorded sections of a benchmarks document, by module name."""
    return {m["name"]: m["body"] for m in _SECTION.finditer(text)}


def render(sections: dict[str, str]) -> str:
    """The whole document: the header, then every known section in the standard order."""
    parts = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`.venv/bin/python -m benchmarks.run`, about an hour); one section is",
        "rerun with `.venv/bin/python -m benchmarks.run benchmarks.<name>`. Each section says when it ran,",
        "on what, and the command behind its numbers. The 30-minute soak's analysis is in [soak.md](soak.md).",
        "",
    ]
    names = [n for n in SECTIONS if n in sections] + sorted(n for n in sections if n not in SECTIONS)
    for name in names:
        parts += [f"<!-- begin {name} -->", sections[name].rstrip("\n"), f"<!-- end {name} -->"]
    return "\n".join(parts) + "\n"


def _stamp(seconds: float) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"_Ran {datetime.now(UTC):%Y-%m-%d %H:%M} UTC for {seconds / 60:.1f} min on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; 1-min load average at the end {load:.1f}._"
    )


def run_section(name: str) -> str:
    """The markdown of one section, or a record of its failure."""
    started = time.perf_counter()
    try:
        body = importlib.import_module(name).run()
    except Exception:  # a broken section must not cost the others their results
        body = f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc(limit=8)}```\n"
    return body.rstrip("\n") + "\n\n" + _stamp(time.perf_counter() - started) + "\n"


def main() -> int:
    """Run the sections named on the command line (default: all), writing the document after each."""
    wanted = sys.argv[1:] or SECTIONS
    sections = existing_sections(DOC.read_text(encoding="utf-8")) if DOC.exists() else {}
    for name in wanted:
        print(f"running {name} ...", flush=True)
        sections[name] = run_section(name)
        DOC.write_text(render(sections), encoding="utf-8")
        print(f"  wrote {DOC}", flush=True)
    failed = [n for n in wanted if "\nFAILED:\n" in sections[n]]
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
