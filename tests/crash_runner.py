"""Runs the real daemon with the keyword test double, for tests that kill it (python -m tests.crash_runner CONFIG)."""

from __future__ import annotations

import asyncio
import sys

from config.loader import load_config
from listener.daemon import Daemon
from listener.logging_setup import setup_logging
from tests.doubles import KeywordClassifier


def main(path: str) -> int:
    """Run until SIGTERM (or SIGKILL, which is the point)."""
    settings = load_config(path)
    setup_logging("WARNING")
    daemon = Daemon(settings, classifier=KeywordClassifier())

    async def run() -> None:
        task = asyncio.create_task(daemon.run())
        await daemon.started.wait()
        print("started", flush=True)  # the test kills us at a random time after this line
        summary = await task
        print(summary.line(), flush=True)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
