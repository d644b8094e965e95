"""A real Mosquitto broker on a free loopback port, started per test by the `mosquitto` fixture."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto")
START_TIMEOUT = 10.0


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    for path in MOSQUITTO_PATHS:
        if Path(path).is_file():
            return path
    return shutil.which("mosquitto")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class BrokerPki:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_test_pki(directory: Path) -> BrokerPki:
    """Create the CA and server certificate with the openssl command (EC keys: fast)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = directory / "ca.key", directory / "ca.pem"
    key, csr, pem = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "2", "-subj", "/CN=test CA"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
         "-out", pem, "-days", "2", "-extfile", ext],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True)
    return BrokerPki(ca_pem, pem, key)


class Mosquitto:
    """One broker process: `.host`, `.port`, `start()`, `stop()`, `restart()` (same port), `pause()`."""

    host = "127.0.0.1"

    def __init__(self, binary: str, workdir: Path, port: int, tls: BrokerPki | None = None) -> None:
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self.tls = tls
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        # Mosquitto 2 defaults a configured listener to allow_anonymous false, hence the line.
        lines = [f"listener {port} {self.host}", "allow_anonymous true", "persistence false"]
        if tls is not None:
            lines += [f"cafile {tls.ca_file}", f"certfile {tls.cert_file}", f"keyfile {tls.key_file}"]
        if os.geteuid() == 0:
            # Run as root, mosquitto switches to its own user before reading the certificates,
            # which then cannot reach pytest's private temporary directory.
            lines.append("user root")
        lines += ["log_dest stderr", "log_type all"]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self.running:
            return
        with self.log.open("ab") as log:
            self._process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}: {self._tail()}")
            # Still alive after the port answered: it is this broker listening, not a stranger.
            if _accepts(self.host, self.port) and self._process.poll() is None:
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not accept connections on port {self.port}: {self._tail()}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and wait until it is gone."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing is answered."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo `pause()` (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same port (clients see the connection drop)."""
        self.stop()
        self.start()

    def _tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return "(no log)"


def _run_broker(tmp_path_factory: pytest.TempPathFactory, tls: bool) -> Iterator[Mosquitto]:
    binary = find_mosquitto()
    if binary is None:
        pytest.fail("mosquitto is not installed: `make test` installs it (Debian package `mosquitto`)")
    workdir = tmp_path_factory.mktemp("mosquitto")
    pki = make_test_pki(workdir / "pki") if tls else None
    broker = None
    # The free port may be taken between the probe and the bind; try a few.
    for _ in range(5):
        broker = Mosquitto(binary, workdir, free_port(), tls=pki)
        try:
            broker.start()
            break
        except RuntimeError:
            broker.stop()
            broker = None
    if broker is None:
        pytest.fail(f"mosquitto could not be started; see {workdir / 'mosquitto.log'}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A running Mosquitto on 127.0.0.1 (anonymous, no persistence), stopped after the test."""
    yield from _run_broker(tmp_path_factory, tls=False)


@pytest.fixture
def mosquitto_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """Like `mosquitto`, but TLS-only, with a certificate from a throwaway CA (`.tls.ca_file`)."""
    yield from _run_broker(tmp_path_factory, tls=True)
