"""Throughput of the MQTT worker pool with 1, 2 and 4 workers: `python -m benchmarks.pool`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import click

from config.schema import ClassifierPoolSettings
from models.pool.client import PoolClassifier
from tests.brokers import Mosquitto, find_mosquitto, free_port

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "models" / "weights" / "adapter.safetensors"
SAMPLES = [
    "acme charged me twice and support never answers",
    "really happy with the new acme app, great update",
    "does acme ship to Norway?",
    "acme's site has been down all morning, this is the worst",
    "配送が遅すぎて最悪です",
    "Meh. acme is fine I guess",
]


def spawn_worker(port: int, prefix: str, name: str, stand_in: bool) -> subprocess.Popen[str]:
    """Start one `listener worker` and return once it has subscribed."""
    command = [sys.executable, "-m", "listener", "worker", "--host", "127.0.0.1", "--port", str(port),
               "--prefix", prefix, "--name", name, "--threads", "1"]  # fmt: skip
    if stand_in:
        command += ["--classifier", "tests.doubles:KeywordClassifier"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if "subscribed" in line:
            break
    threading.Thread(target=process.stderr.read, daemon=True).start()
    if process.poll() is not None:
        raise RuntimeError(f"worker {name} exited with {process.returncode}")
    return process


def measure(
    port: int, workers: int, texts: int, batch: int, chunk: int, stand_in: bool
) -> tuple[float, dict[str, int]]:
    """Texts per second through the pool, the core calling predict batch after batch like the stage."""
    prefix = f"bench/{workers}"
    processes = [spawn_worker(port, prefix, f"w{i}", stand_in) for i in range(workers)]
    try:
        settings = ClassifierPoolSettings(
            port=port, topic_prefix=prefix, chunk_size=chunk, timeout=timedelta(seconds=120)
        )
        pool = PoolClassifier(settings)
        corpus = [f"{SAMPLES[i % len(SAMPLES)]} #{i}" for i in range(texts)]
        pool.predict(corpus[:batch])  # warm-up: first forward pass in every worker is slow
        started = time.perf_counter()
        for i in range(0, texts, batch):
            pool.predict(corpus[i : i + batch])
        elapsed = time.perf_counter() - started
        pool.close()
        return texts / elapsed, dict(pool.stats.workers)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def measure_all(texts: int, batch: int, chunk: int, counts: list[int], nodelay: bool,
                stand_in: bool) -> list[tuple[int, float, dict[str, int]]]:
    """Start a private Mosquitto and measure each worker count in turn: (workers, texts/s, chunks per worker)."""
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("mosquitto is not installed")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        broker = Mosquitto(binary, Path(workdir), free_port())
        if nodelay:  # Mosquitto's default leaves Nagle on for its outgoing packets
            with broker.config.open("a", encoding="utf-8") as config:
                config.write("set_tcp_nodelay true\n")
        broker.start()
        try:
            for n in counts:
                rate, spread = measure(broker.port, n, texts, batch, chunk, stand_in)
                rows.append((n, rate, spread))
        finally:
            broker.stop()
    return rows


def run(texts: int = 512, batch: int = 32, chunk: int = 8) -> str:
    """The worker-pool section of docs/benchmarks.md (real model, 1, 2 and 4 workers on this machine)."""
    stand_in = not WEIGHTS.is_file()
    counts = [1, 2, 4]
    rows = measure_all(texts, batch, chunk, counts, True, stand_in)
    model = "keyword stand-in" if stand_in else "builtin model, 1 torch thread per worker"
    lines = [
        "## Worker pool (`backend = \"pool\"`)",
        "",
        "Command: `.venv/bin/python -m benchmarks.pool "
        f"--texts {texts} --batch {batch} --chunk {chunk} --workers 1,2,4`. "
        f"{model}; a private Mosquitto with `set_tcp_nodelay`; the core calls `predict` in batches of {batch} "
        f"and the pool splits them into work messages of {chunk} texts.",
        "",
        "| workers | texts/s | chunks handled per worker |",
        "|---:|---:|---|",
    ]
    for n, rate, spread in rows:
        lines.append(f"| {n} | {rate:,.1f} | {', '.join(f'{k}: {v}' for k, v in sorted(spread.items()))} |")
    lines += ["", f"On {os.cpu_count()} CPUs more workers than cores only compete for them; "
              "the pool pays off when workers run on other machines.", ""]
    return "\n".join(lines)


@click.command()
@click.option("--texts", default=1024, show_default=True, help="Texts classified per measurement.")
@click.option("--batch", default=32, show_default=True, help="Texts per predict() call (the stage's batch_size).")
@click.option("--chunk", default=8, show_default=True, help="Texts per work message (chunk_size).")
@click.option("--workers", "counts", default="1,2,4", show_default=True, help="Worker counts to measure.")
@click.option("--nodelay/--no-nodelay", default=True, show_default=True, help="Broker set_tcp_nodelay.")
@click.option("--stand-in", is_flag=True, help="Use the keyword stand-in instead of the real model.")
def main(texts: int, batch: int, chunk: int, counts: str, nodelay: bool, stand_in: bool) -> None:
    """Measure the pool with each worker count and print texts per second."""
    if not stand_in and not WEIGHTS.is_file():
        click.echo("models/weights has no adapter: using the keyword stand-in")
        stand_in = True
    model = "keyword stand-in" if stand_in else "builtin model (1 torch thread per worker)"
    click.echo(f"{model}; {texts} texts, predict batches of {batch}, chunks of {chunk}")
    try:
        rows = measure_all(texts, batch, chunk, [int(c) for c in counts.split(",")], nodelay, stand_in)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from error
    for n, rate, spread in rows:
        click.echo(f"{n} worker(s): {rate:8.1f} texts/s   chunks per worker {spread}")


if __name__ == "__main__":
    main()
