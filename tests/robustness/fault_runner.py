"""Runs the real daemon with the keyword double and its logging (`python -m tests.robustness.fault_runner CONFIG`).

For tests that break the disk under a running daemon and read what it logged.
"""

from __future__ import annotations

import asyncio
import sys

from config.loader import load_config
from listener.daemon import Daemon
from listener.logging_setup import setup_logging
from tests.doubles import KeywordClassifier


def main(path: str) -> int:
    """Run until SIGTERM; print "started" once the daemon runs."""
    settings = load_config(path)
    setup_logging(settings.listener.log_level, settings.listener.log_format)
    daemon = Daemon(settings, classifier=KeywordClassifier())

    async def run() -> None:
        task = asyncio.create_task(daemon.run())
        await daemon.started.wait()
        print("started", flush=True)
        summary = await task
        print(summary.line(), flush=True)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
