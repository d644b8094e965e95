"""The MQTT worker pool against a real Mosquitto and real worker processes (fast stand-in model)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from config.loader import load_config
from config.schema import ClassifierPoolSettings
from models.base import Classification
from models.pool.client import (
    PoolClassifier,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)
from models.pool.worker import Worker, settings_from
from tests.brokers import Mosquitto, mosquitto  # noqa: F401  (fixture)
from tests.doubles import KeywordClassifier

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["this is broken and awful", "love it, great", "", "just a remark", "refund please, terrible"]


class SlowClassifier(KeywordClassifier):
    """KeywordClassifier that marks the start of each batch in a file, then takes its time."""

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Announce, wait, judge."""
        Path(os.environ["POOL_TEST_MARK"]).write_text("busy", encoding="utf-8")
        time.sleep(float(os.environ.get("POOL_TEST_DELAY", "30")))
        return super().predict(texts)


def spawn(
    broker: Mosquitto, prefix: str, classifier: str, name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """A `listener worker` process on the test broker."""
    command = [sys.executable, "-m", "listener", "worker", "--classifier", classifier, "--host", broker.host,
               "--port", str(broker.port), "--prefix", prefix, "--name", name]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:  # ends at exit, so a crashing worker cannot hang the test
        if "subscribed" in line:
            break
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
    assert process.poll() is None, "the worker exited before subscribing"
    return process


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def settings_for(broker: Mosquitto, prefix: str, timeout: float = 20.0, chunk_size: int = 8) -> ClassifierPoolSettings:
    return ClassifierPoolSettings(host=broker.host, port=broker.port, topic_prefix=prefix,
                                  timeout=timedelta(seconds=timeout), attempts=4, chunk_size=chunk_size)


def test_wire_round_trip_keeps_order_and_fields() -> None:
    request = encode_request("r1", "p/results/c", TEXTS)
    assert decode_request(request) == ("r1", "p/results/c", TEXTS)
    results = KeywordClassifier().predict(TEXTS)
    assert decode_result(encode_result("r1", "w", results)) == ("r1", "w", results)


def test_malformed_work_message_is_skipped_and_the_worker_goes_on() -> None:
    worker = Worker(KeywordClassifier(), ClassifierPoolSettings())
    assert worker.handle(b"{not json") is None
    assert worker.handle(b'{"v": 99}') is None
    answer = worker.handle(encode_request("r2", "x/results/y", TEXTS[:2]))
    assert answer is not None and answer[0] == "x/results/y"
    assert decode_result(answer[1])[2] == KeywordClassifier().predict(TEXTS[:2])


def test_three_workers_share_the_batches(mosquitto: Mosquitto, procs: list[subprocess.Popen[str]]) -> None:
    prefix = "t/share"
    for i in range(3):
        procs.append(spawn(mosquitto, prefix, "tests.doubles:KeywordClassifier", f"w{i}"))
    # Chunks of two: each batch of five is spread over three messages, answered in any order.
    pool = PoolClassifier(settings_for(mosquitto, prefix, chunk_size=2))
    expected = KeywordClassifier().predict(TEXTS)
    try:
        for _ in range(12):
            assert pool.predict(TEXTS) == expected
    finally:
        pool.close()
    assert pool.stats.batches == 12 and pool.stats.duplicates == 0 and pool.stats.republished == 0
    assert set(pool.stats.workers) == {"w0", "w1", "w2"}  # the shared subscription spreads the batches
    assert pool.model_id == KeywordClassifier.model_id


def test_worker_killed_mid_batch_has_its_batch_redelivered(
    mosquitto: Mosquitto, procs: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    prefix = "t/kill"
    mark = tmp_path / "mark"
    slow = spawn(mosquitto, prefix, "tests.test_worker_pool:SlowClassifier", "slow", {"POOL_TEST_MARK": str(mark)})
    procs.append(slow)
    pool = PoolClassifier(settings_for(mosquitto, prefix, timeout=2.0))
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(pool.predict(TEXTS)))
    thread.start()
    deadline = time.monotonic() + 20
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mark.exists(), "the slow worker never received the batch"
    slow.send_signal(signal.SIGKILL)
    slow.wait(timeout=10)
    procs.append(spawn(mosquitto, prefix, "tests.doubles:KeywordClassifier", "rescuer"))
    thread.join(timeout=30)
    pool.close()
    assert outcome == [KeywordClassifier().predict(TEXTS)]
    assert pool.stats.republished >= 1 and pool.stats.batches == 1


def test_worker_and_core_reconnect_after_broker_restart(
    mosquitto: Mosquitto, procs: list[subprocess.Popen[str]]
) -> None:
    prefix = "t/restart"
    procs.append(spawn(mosquitto, prefix, "tests.doubles:KeywordClassifier", "w"))
    pool = PoolClassifier(settings_for(mosquitto, prefix, timeout=2.0))
    expected = KeywordClassifier().predict(TEXTS)
    try:
        assert pool.predict(TEXTS) == expected
        mosquitto.restart()
        assert procs[0].poll() is None
        assert pool.predict(TEXTS) == expected
    finally:
        pool.close()


def test_worker_takes_the_model_settings_from_the_config_but_runs_the_builtin_backend(tmp_path: Path) -> None:
    config = tmp_path / "listener.toml"
    config.write_text(
        f'[listener]\ndatabase = "{tmp_path / "db.sqlite"}"\n[brands.acme]\nkeywords = ["acme"]\n'
        '[classifier]\nbackend = "huggingface"\nmodel = "some/model"\ncomplaint_threshold = 0.7\n',
        encoding="utf-8",
    )
    pool, classifier = settings_from(load_config(config))
    assert classifier.backend == "builtin" and classifier.complaint_threshold == 0.7
    assert pool == ClassifierPoolSettings()


def test_worker_defaults_without_a_config_and_rejects_a_missing_one(tmp_path: Path) -> None:
    pool, classifier = settings_from(None)
    assert pool == ClassifierPoolSettings() and classifier.backend == "builtin"
    from listener.cli import main

    assert main(["worker", "--config", str(tmp_path / "absent.toml")]) == 2


class _Exploding(KeywordClassifier):
    def predict(self, texts: Sequence[str]) -> list[Classification]:
        if any("boom" in t for t in texts):
            raise RuntimeError("model failure")
        return super().predict(texts)


def test_a_model_failure_leaves_the_request_unanswered_and_the_worker_alive() -> None:
    worker = Worker(_Exploding(), ClassifierPoolSettings())
    assert worker.handle(encode_request("r3", "x/results/y", ["boom"])) is None
    answer = worker.handle(encode_request("r4", "x/results/y", ["fine"]))
    assert answer is not None and decode_result(answer[1])[0] == "r4"


def test_config_backend_pool_builds_a_pool_classifier_from_classifier_pool() -> None:
    from config.loader import parse_config
    from models.loader import load_classifier
    from models.pool.client import PoolClassifier

    settings = parse_config({
        "classifier": {"backend": "pool", "pool": {"host": "127.0.0.1", "port": 1, "timeout": "2s", "chunk_size": 4}},
    })
    classifier = load_classifier(settings.classifier)
    try:
        assert isinstance(classifier, PoolClassifier)
        assert classifier.settings.timeout == timedelta(seconds=2) and classifier.settings.chunk_size == 4
    finally:
        classifier.close()


def test_one_pool_settings_class_from_config_to_client(tmp_path: Path) -> None:
    """[classifier.pool] reaches the pool as the config's own model; a zero timeout is refused by key."""
    from config.loader import parse_config
    from listener.errors import ConfigError

    settings = parse_config({"classifier": {"backend": "pool", "pool": {"timeout": "45s", "chunk_size": 4}}})
    assert settings.classifier.pool.timeout == timedelta(seconds=45)
    assert settings_from(settings)[0] is settings.classifier.pool
    with pytest.raises(ConfigError) as err:
        parse_config({"classifier": {"pool": {"timeout": "0s"}}})
    assert any("classifier.pool.timeout" in line for line in err.value.problems)
