"""`listener worker` logs like the daemon: the configured format, with secrets masked."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.doubles import KeywordClassifier

ROOT = Path(__file__).resolve().parents[2]
SECRET = "pool-pass-5e1f9a77c0"


class LeakyClassifier(KeywordClassifier):
    """A stand-in model whose start-up logs the broker password (a careless plugin would)."""

    def __init__(self) -> None:
        super().__init__()
        logging.getLogger("plugin").warning("connecting with password %s", os.environ["POOL_PASSWORD"])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_worker_logs_json_lines_with_secrets_masked(tmp_path: Path) -> None:
    """log_format = "json" gives one JSON object a line; the password from ${VAR} never shows."""
    config = tmp_path / "listener.toml"
    config.write_text(f"""
[listener]
database = "{tmp_path / 'db.sqlite'}"
log_format = "json"
[brands.acme]
keywords = ["acme"]
[classifier]
backend = "pool"
[classifier.pool]
host = "127.0.0.1"
port = {_closed_port()}
password = "${{POOL_PASSWORD}}"
""")
    proc = subprocess.Popen(
        [sys.executable, "-m", "listener", "worker", "--config", str(config),
         "--classifier", "tests.robustness.test_worker_logging:LeakyClassifier"],
        cwd=ROOT, env={**os.environ, "POOL_PASSWORD": SECRET}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines = []
    try:
        for line in proc.stderr:  # up to the worker's own start line
            lines.append(line)
            if "starting" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, rest = proc.communicate(timeout=30)
    lines += (rest or "").splitlines(keepends=True)
    text = "".join(lines)
    assert SECRET not in text, text
    records = [json.loads(line) for line in lines if line.strip()]
    messages = [r["message"] for r in records]
    assert any("connecting with password ***" in m for m in messages), messages
    assert any("starting" in m for m in messages), messages
