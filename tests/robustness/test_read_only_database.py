"""A database the daemon may not write is found at start: exit 1 with one line, never "listener running"."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from listener.store import SyncStore

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "listener", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _config(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "listener.toml"
    config.write_text(f'[listener]\ndatabase = "{db}"\n[brands.acme]\nkeywords = ["acme"]\n'
                      '[alerts]\ndispatch_interval = "200ms"\n')
    return config


@pytest.fixture
def read_only_file(tmp_path: Path) -> Iterator[Path]:
    """A valid database whose file cannot be written (its directory can): SQLite opens it read-only."""
    db = tmp_path / "data" / "listener.db"
    SyncStore(db).close()
    if os.geteuid() == 0:  # root ignores file modes: a read-only bind mount of the file does what chmod would
        if subprocess.run(["mount", "--bind", str(db), str(db)], capture_output=True).returncode or subprocess.run(
                ["mount", "-o", "remount,ro,bind", str(db)], capture_output=True).returncode:
            subprocess.run(["umount", str(db)], capture_output=True)
            pytest.skip("cannot make a read-only bind mount here")
        try:
            yield db
        finally:
            subprocess.run(["umount", str(db)], capture_output=True)
    else:
        db.chmod(stat.S_IRUSR)
        yield db


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory holding a valid database, mounted (or made) read-only."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here")
        try:
            SyncStore(mount / "listener.db").close()
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
            yield mount / "listener.db"
        finally:
            subprocess.run(["umount", str(mount)], capture_output=True)
    else:
        SyncStore(mount / "listener.db").close()
        mount.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield mount / "listener.db"
        finally:
            mount.chmod(stat.S_IRWXU)


def test_run_on_a_read_only_file_exits_at_start_with_one_line(read_only_file: Path, tmp_path: Path) -> None:
    """`listener run` (forever mode) checks it can write before it says it runs."""
    done = _run("run", "--config", str(_config(tmp_path, read_only_file)), timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "listener running" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(read_only_file) in lines[0] and "readonly" in lines[0], lines


def test_run_on_a_read_only_directory_exits_at_start_with_one_line(read_only_dir: Path, tmp_path: Path) -> None:
    """The same for a read-only mount."""
    done = _run("run", "--config", str(_config(tmp_path, read_only_dir)), timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "listener running" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_complaints_on_a_read_only_directory_prints_one_line(read_only_dir: Path, tmp_path: Path) -> None:
    """Commands that open the store say what is wrong in one line."""
    config = _config(tmp_path, read_only_dir)
    for command in (["complaints"], ["health"], ["sources"], ["query", "SELECT count(*) FROM mentions"]):
        done = _run(*command, "--config", str(config))
        assert done.returncode == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "database" in lines[0], (command, lines)
