"""Soak benchmark: the real daemon for minutes against loopback synthetic sources; memory and backlog trends.

`make bench` runs a short soak (3 minutes). The 30-minute run recorded in the docs:

    .venv/bin/python -m benchmarks.soak --minutes 30 --rate 50 --output docs/soak.md

What runs: Mosquitto (a private broker on a free port), five loopback Mastodon servers that
together post `rate` customer statuses per second plus the brand's replies, a loopback Slack
webhook, and `listener run` as a child process with the builtin model, real Mastodon
connectors, clocks, the Slack and MQTT sinks and the API (for /metrics). Every `--sample-every`
seconds the orchestrator records the daemon's RSS and CPU, the queue depth, the unclassified
backlog, the outbox, the open clocks and how far ingestion trails what the sources posted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp
import click
import paho.mqtt.client as mqtt
from aiohttp import web

from tests.brokers import Mosquitto, find_mosquitto, free_port

ROOT = Path(__file__).resolve().parents[1]
SOURCES = 5
HASHTAG = "acmesoak"
ID_BASE = 10**15  # fixed-width ids: Mastodon orders ids by (length, value)
# Brand replies answer customers of the block REPLY_LAG blocks earlier, shuffled, so an answer
# comes 1 to 3 blocks after the post (triangular, mode 2 blocks). A block is 2 minutes in a soak
# of 18 minutes or more (answers after 2 to 6 minutes; warning at 4, deadline at 5 minutes, so
# about half the complaints warn and one in eight breaches), and shorter in a short soak.
MAX_REPLY_BLOCK_S = 120.0
REPLY_LAG = 2

# Customer posts: complaints, questions, praise and chatter in several languages (the model's
# cost depends on length and script). {n} makes every text unique, {p} names a product.
TEMPLATES = (
    "@acme my order {n} still hasn't arrived after two weeks, this is the third time I ask. Sort it out.",
    "Acme charged me twice for order {n} and support never answers. Worst service ever.",
    "The new Acme {p} stopped working after one day. I want a refund for order {n}.",
    "acme app crashes every time I open my account page (ticket {n}). Please fix this.",
    "Been on hold with Acme for 45 minutes about invoice {n}. Unacceptable.",
    "Does the Acme {p} work with the older charger? Asking before I buy (ref {n}).",
    "How do I change the delivery address on Acme order {n}?",
    "Is anyone else's Acme {p} making a clicking noise? Mine does since the update {n}.",
    "Just got my Acme {p}, setup took five minutes. Love it! #{n}",
    "Huge thanks to the Acme team, they replaced my {p} in a day (case {n}).",
    "Acme support was great today, problem {n} solved on the first call.",
    "Reading the Acme quarterly report, interesting numbers on page {n}.",
    "Acme is opening a new store downtown next month, event {n}.",
    "Meine Acme Bestellung {n} ist immer noch nicht da. Kundenservice antwortet nicht.",
    "Der Acme {p} ist super, danke für die schnelle Lieferung! ({n})",
    "Ma commande Acme {n} est arrivée cassée, et personne ne répond au service client.",
    "Merci Acme, le {p} fonctionne parfaitement ({n}).",
    "Mi pedido de Acme {n} lleva tres semanas de retraso. Qué desastre.",
    "¿Alguien sabe si Acme envía a Canarias? Pedido {n}",
    "Meu pedido Acme {n} veio errado e ninguém responde.",
    "Acmeの注文{n}がまだ届きません。サポートにも連絡がつかない。",
    "Acmeの{p}、とても使いやすいです！ありがとう {n}",
    "acme {p} battery died after a week, order {n}, really disappointed",
    "@acme can you DM me about order {n}? The tracking link is broken.",
)
PRODUCTS = ("router", "kettle", "headphones", "smart plug", "camera", "blender", "speaker", "watch")


# -- synthetic sources -------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _permutation(block: int, size: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shuffled order of one reply block and its inverse (deterministic per block)."""
    order = list(range(size))
    random.Random(block * 7919 + size).shuffle(order)
    inverse = [0] * size
    for position, customer in enumerate(order):
        inverse[customer] = position
    return tuple(order), tuple(inverse)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SyntheticMastodon:
    """A Mastodon hashtag timeline computed from the clock, so it holds no memory however long it runs.

    Slot `j` (at `epoch + j / rate`) holds customer status `2j` and, from block REPLY_LAG on, brand
    reply `2j + 1`, which answers one customer of the block REPLY_LAG blocks earlier (a per-block
    permutation: every customer is answered exactly once). The epoch is the first request, so
    nothing is posted before the daemon polls.
    """

    def __init__(self, name: str, rate: float, reply_block_s: float = MAX_REPLY_BLOCK_S) -> None:
        self.name = name
        self.rate = rate
        self.block = max(1, round(rate * reply_block_s))
        self.epoch: float | None = None
        self.requests = 0

    def app(self) -> web.Application:
        """The aiohttp application (tag timeline and status context)."""
        app = web.Application()
        app.router.add_get("/api/v1/timelines/tag/{tag}", self._tag)
        app.router.add_get("/api/v1/statuses/{id}/context", self._context)
        return app

    def posted(self, now: float | None = None) -> int:
        """Customer statuses posted so far (slot 0 at the epoch, so the first poll already sees one)."""
        if self.epoch is None:
            return 0
        return int(((now or time.time()) - self.epoch) * self.rate) + 1

    def _slot_time(self, slot: int) -> float:
        assert self.epoch is not None
        return self.epoch + slot / self.rate

    def _answered(self, slot: int) -> int | None:
        """Customer slot that the reply in `slot` answers (None before the first reply block)."""
        block, index = divmod(slot, self.block)
        if block < REPLY_LAG:
            return None
        order, _ = _permutation(block, self.block)
        return (block - REPLY_LAG) * self.block + order[index]

    def _reply_slot(self, customer: int) -> int:
        block, index = divmod(customer, self.block)
        _, inverse = _permutation(block + REPLY_LAG, self.block)
        return (block + REPLY_LAG) * self.block + inverse[index]

    def _customer(self, slot: int) -> dict[str, Any]:
        rng = random.Random(f"{self.name}:{slot}")  # str seeds are stable across processes
        text = rng.choice(TEMPLATES).format(n=rng.randrange(10_000, 99_999_999), p=rng.choice(PRODUCTS))
        user = f"user{rng.randrange(50_000)}"
        status_id = str(ID_BASE + 2 * slot)
        account = {"id": str(rng.randrange(10**6)), "username": user, "acct": f"{user}@other.example",
                   "display_name": user.title(), "followers_count": rng.choice((3, 40, 250, 1200, 30_000))}
        return {
            "id": status_id, "uri": f"https://other.example/users/{user}/statuses/{status_id}",
            "url": f"https://other.example/@{user}/{status_id}", "created_at": _iso(self._slot_time(slot)),
            "in_reply_to_id": None, "in_reply_to_account_id": None, "language": None, "visibility": "public",
            "spoiler_text": "", "content": f"<p>{text} <a href=\"https://{self.name}.example/tags/{HASHTAG}\" "
            f"class=\"mention hashtag\">#<span>{HASHTAG}</span></a></p>",
            "account": account, "mentions": [], "tags": [{"name": HASHTAG}], "reblog": None,
        }

    def _reply(self, slot: int, customer: int) -> dict[str, Any]:
        status_id = str(ID_BASE + 2 * slot + 1)
        return {
            "id": status_id, "uri": f"https://{self.name}.example/users/acme/statuses/{status_id}",
            "url": f"https://{self.name}.example/@acme/{status_id}", "created_at": _iso(self._slot_time(slot)),
            "in_reply_to_id": str(ID_BASE + 2 * customer), "in_reply_to_account_id": "1", "language": "en",
            "visibility": "public", "spoiler_text": "",
            "content": f"<p>Sorry to hear that, we are looking into it, check your DMs. #{HASHTAG}</p>",
            "account": {"id": "1", "username": "acme", "acct": "acme", "display_name": "Acme Support",
                        "followers_count": 90_000},
            "mentions": [], "tags": [{"name": HASHTAG}], "reblog": None,
        }

    def _item(self, status_id: int) -> dict[str, Any] | None:
        slot, is_reply = divmod(status_id - ID_BASE, 2)
        if not is_reply:
            return self._customer(slot)
        customer = self._answered(slot)
        return None if customer is None else self._reply(slot, customer)

    async def _tag(self, request: web.Request) -> web.Response:
        now = time.time()
        if self.epoch is None:
            self.epoch = now
        self.requests += 1
        query = request.query
        limit = max(1, min(int(query.get("limit", "20")), 40))
        newest = ID_BASE + 2 * self.posted(now) - 1  # highest id that may exist (reply of the last slot)
        if "min_id" in query:  # forward paging: the oldest `limit` above min_id, newest first
            ids: list[int] = []
            candidate = int(query["min_id"]) + 1
            while candidate <= newest and len(ids) < limit:
                if self._item(candidate) is not None:
                    ids.append(candidate)
                candidate += 1
            ids.reverse()
        else:  # first page, or since_id / max_id: newest first
            upper = min(newest, int(query["max_id"]) - 1) if "max_id" in query else newest
            lower = int(query["since_id"]) + 1 if "since_id" in query else ID_BASE
            ids = []
            candidate = upper
            while candidate >= lower and len(ids) < limit:
                if self._item(candidate) is not None:
                    ids.append(candidate)
                candidate -= 1
        return web.json_response([item for i in ids if (item := self._item(i)) is not None])

    async def _context(self, request: web.Request) -> web.Response:
        self.requests += 1
        try:
            status_id = int(request.match_info["id"])
        except ValueError:
            return web.json_response({"error": "Record not found"}, status=404)
        slot, is_reply = divmod(status_id - ID_BASE, 2)
        if is_reply or slot < 0 or slot >= self.posted():
            return web.json_response({"error": "Record not found"}, status=404)
        reply_slot = self._reply_slot(slot)
        descendants = [self._reply(reply_slot, slot)] if reply_slot < self.posted() else []
        return web.json_response({"ancestors": [], "descendants": descendants})


class FakeSlackWebhook:
    """Counts incoming-webhook posts (and answers `ok`, as Slack does)."""

    def __init__(self) -> None:
        self.posts = 0
        self.kinds: Counter[str] = Counter()

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/hook", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts += 1
        text = str(body.get("text", "")).lower()
        for kind in ("breach", "warn", "replied", "down", "source"):
            if kind in text:
                self.kinds[kind] += 1
                break
        else:
            self.kinds["other"] += 1
        return web.Response(text="ok")


class MqttCounter:
    """Subscribes to everything under the daemon's prefix and counts messages (paho's own thread)."""

    def __init__(self, port: int, prefix: str = "listener") -> None:
        self.messages: Counter[str] = Counter()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-counter",
                                   protocol=mqtt.MQTTv5)
        self._client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(f"{prefix}/#", qos=1)
        self._client.on_message = lambda _c, _u, message: self.messages.update([message.topic.rsplit("/", 1)[-1]])
        self._client.connect("127.0.0.1", port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


# -- sampling ----------------------------------------------------------------------------------


@dataclass
class Sample:
    """One observation of the running daemon."""

    t: float  # seconds since the daemon was ready
    rss_mb: float
    cpu_s: float  # daemon user + system CPU seconds so far
    queue_depth: float
    unclassified: int
    outbox_pending: int
    open_clocks: int
    mentions: int
    classified: int
    posted: int  # customer statuses the sources had posted
    slack_posts: int
    mqtt_messages: int
    load1: float


@dataclass
class SoakResult:
    """Everything measured in one soak run."""

    minutes: float
    rate: float
    threads: int
    warmup_s: float
    window_s: float
    sample_every: float
    reply_block_s: float
    samples: list[Sample] = field(default_factory=list)
    summary_line: str = ""
    log_lines: Counter[str] = field(default_factory=Counter)  # warning / error lines by level
    log_tail: list[str] = field(default_factory=list)
    slack_kinds: Counter[str] = field(default_factory=Counter)
    mqtt_kinds: Counter[str] = field(default_factory=Counter)
    startup_s: float = 0.0
    db_mb: float = 0.0
    started_at: str = ""


def _proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MB, user + system CPU seconds) of a process, from /proc."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def _db_counts(path: Path) -> tuple[int, int, int, int, int]:
    """(unclassified, outbox pending, open clocks, mentions, classified) read through a read-only connection."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        q = db.execute
        unclassified = q("SELECT COUNT(*) FROM mentions WHERE classified_at IS NULL").fetchone()[0]
        mentions = q("SELECT COUNT(*) FROM mentions").fetchone()[0]
        pending = q("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
        open_clocks = q("SELECT COUNT(*) FROM complaints WHERE state = 'open'").fetchone()[0]
        return unclassified, pending, open_clocks, mentions, mentions - unclassified
    finally:
        db.close()


_METRIC = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(?P<value>\S+)$")


async def _queue_depth(session: aiohttp.ClientSession, port: int) -> float:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match and match["name"] == "listener_queue_depth":
            return float(match["value"])
    return float("nan")


def _config(tmp: Path, feeds: list[tuple[str, int]], slack_port: int, mqtt_port: int, api_port: int,
            threads: int, reply_block_s: float) -> Path:
    handles = ", ".join(f'{name} = ["@acme"]' for name, _ in feeds)
    lines = [
        "[listener]", f'database = "{tmp / "soak.db"}"', 'log_level = "WARNING"', "",
        "[classifier]", 'backend = "builtin"', f"threads = {threads}", "batch_size = 32", 'max_wait = "50ms"',
        "queue_size = 1000", "",
        "[sla]", f'target = "{reply_block_s * 2.5:g}s"', f'warn_after = "{reply_block_s * 2:g}s"',
        'sweep_interval = "5s"', "",
        "[brands.acme]", 'keywords = ["acme", "Acme"]', f"handles = {{ {handles} }}", "",
    ]
    for name, port in feeds:
        lines += [
            f"[connectors.{name}]", 'type = "mastodon"', f'base_url = "http://127.0.0.1:{port}"',
            f'hashtags = ["{HASHTAG}"]', "search = []", 'poll_interval = "5s"', 'jitter = "0s"', "limit = 40",
            "max_pages = 20", "context_checks = 10", "",
        ]
    lines += [
        "[alerts]", 'dispatch_interval = "1s"', "",
        "[alerts.slack]", f'webhook_url = "http://127.0.0.1:{slack_port}/hook"', "",
        "[alerts.mqtt]", "enabled = true", 'host = "127.0.0.1"', f"port = {mqtt_port}", "",
        "[api]", "enabled = true", 'host = "127.0.0.1"', f"port = {api_port}", "",
    ]
    path = tmp / "soak.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


async def _wait_ready(session: aiohttp.ClientSession, port: int, process: subprocess.Popen[bytes],
                      limit: float = 600.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode} before it was ready")
        try:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError("the daemon did not serve /metrics in time")


async def soak(minutes: float, rate: float, *, threads: int = 2, sample_every: float = 30.0,
               progress: bool = False, keep_log: Path | None = None) -> SoakResult:
    """Run the whole stack for `minutes` and return the samples (`keep_log`: copy the daemon's log there)."""
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("mosquitto is not installed (Debian package `mosquitto`)")
    duration = minutes * 60
    warmup = min(300.0, duration / 6)
    window = min(300.0, (duration - warmup) / 3)
    reply_block = min(MAX_REPLY_BLOCK_S, duration / 9)
    result = SoakResult(minutes, rate, threads, warmup, window, sample_every, reply_block,
                        started_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp_name:
        tmp = Path(tmp_name)
        broker = Mosquitto(binary, tmp, free_port())
        # As in docker/mosquitto.conf: Nagle off; and no per-message log lines at this rate.
        conf = broker.config.read_text(encoding="utf-8").replace("log_type all", "log_type error\nlog_type warning")
        broker.config.write_text(conf + "set_tcp_nodelay true\n", encoding="utf-8")
        broker.start()
        feeds = [SyntheticMastodon(f"soak{i + 1}", rate / SOURCES, reply_block) for i in range(SOURCES)]
        slack = FakeSlackWebhook()
        runners: list[web.AppRunner] = []
        ports = []
        for feed in feeds:
            runner, port = await _serve(feed.app())
            runners.append(runner)
            ports.append(port)
        slack_runner, slack_port = await _serve(slack.app())
        runners.append(slack_runner)
        counter = MqttCounter(broker.port)
        api_port = free_port()
        config = _config(tmp, [(f.name, p) for f, p in zip(feeds, ports, strict=True)], slack_port, broker.port,
                         api_port, threads, reply_block)
        log_path = tmp / "daemon.log"
        env = dict(os.environ, MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"))
        env.pop("LISTENER_DB", None)
        launched = time.monotonic()
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "listener", "run", "--config", str(config)],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log)
        try:
            async with aiohttp.ClientSession() as session:
                await _wait_ready(session, api_port, process)
                ready = time.monotonic()
                result.startup_s = ready - launched
                next_sample = ready
                while True:
                    now_m = time.monotonic()
                    if now_m >= next_sample:
                        rss, cpu = _proc_stats(process.pid)
                        depth = await _queue_depth(session, api_port)
                        unclassified, pending, open_clocks, mentions, classified = await asyncio.to_thread(
                            _db_counts, tmp / "soak.db")
                        sample = Sample(
                            t=now_m - ready, rss_mb=rss, cpu_s=cpu, queue_depth=depth, unclassified=unclassified,
                            outbox_pending=pending, open_clocks=open_clocks, mentions=mentions,
                            classified=classified, posted=sum(f.posted() for f in feeds), slack_posts=slack.posts,
                            mqtt_messages=sum(counter.messages.values()), load1=os.getloadavg()[0],
                        )
                        result.samples.append(sample)
                        if progress:
                            print(json.dumps(sample.__dict__, default=float), flush=True)
                        next_sample += sample_every
                        if sample.t >= duration - 1e-6:
                            break
                    if process.poll() is not None:
                        raise RuntimeError(f"the daemon exited with {process.returncode} during the soak")
                    await asyncio.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
            process.send_signal(signal.SIGTERM)
            out, _ = await asyncio.to_thread(process.communicate, timeout=120)
            result.summary_line = out.decode("utf-8", "replace").strip().splitlines()[-1] if out.strip() else ""
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            counter.close()
            for runner in runners:
                await runner.cleanup()
            broker.stop()
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            for level in ("WARNING", "ERROR", "CRITICAL"):
                if level in line:
                    result.log_lines[level] += 1
        if keep_log is not None:
            shutil.copyfile(log_path, keep_log)
        result.log_tail = [line[:300] for line in
                           log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]]
        result.slack_kinds = Counter(slack.kinds)
        result.mqtt_kinds = Counter(counter.messages)
        result.db_mb = sum(p.stat().st_size for p in tmp.glob("soak.db*")) / 2**20
    return result


# -- report ------------------------------------------------------------------------------------


def _window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.t <= end + 1e-6]


def _slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    xs = [t / 60 for t, _ in points]
    ys = [v for _, v in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


BACKLOGS: dict[str, Any] = {
    "queue_depth": lambda s: s.queue_depth,
    "unclassified": lambda s: s.unclassified,
    "outbox_pending": lambda s: s.outbox_pending,
    "lag": lambda s: s.posted - s.mentions,
    "open_clocks": lambda s: s.open_clocks,
}


def analyse(result: SoakResult) -> dict[str, Any]:
    """Memory growth, backlog trends and throughput from the samples."""
    samples = result.samples
    end = samples[-1].t
    first = _window(samples, result.warmup_s, result.warmup_s + result.window_s)
    last = _window(samples, end - result.window_s, end)
    steady = _window(samples, result.warmup_s, end)
    rss_first = statistics.fmean(s.rss_mb for s in first)
    rss_last = statistics.fmean(s.rss_mb for s in last)
    a, b = steady[0], steady[-1]
    span = max(b.t - a.t, 1e-9)
    backlog = {
        name: {
            "first": statistics.fmean(float(value(s)) for s in first),
            "last": statistics.fmean(float(value(s)) for s in last),
            "slope_per_min": _slope_per_min([(s.t, float(value(s))) for s in steady]),
        }
        for name, value in BACKLOGS.items()
    }
    return {
        "rss_first": rss_first,
        "rss_last": rss_last,
        "rss_growth_pct": (rss_last / rss_first - 1) * 100,
        "rss_max": max(s.rss_mb for s in samples),
        "backlog": backlog,
        "offered_per_s": (b.posted - a.posted) / span,
        "stored_per_s": (b.mentions - a.mentions) / span,
        "classified_per_s": (b.classified - a.classified) / span,
        "cpu_cores": (b.cpu_s - a.cpu_s) / span,
        "slack_per_s": (b.slack_posts - a.slack_posts) / span,
        "mqtt_per_s": (b.mqtt_messages - a.mqtt_messages) / span,
        "load_mean": statistics.fmean(s.load1 for s in samples),
        "load_max": max(s.load1 for s in samples),
    }


def _grows(item: dict[str, float], allowance: float) -> bool:
    """A backlog grows when its last window is above its first by more than `allowance` items."""
    return item["last"] - item["first"] > allowance


def report(result: SoakResult) -> str:
    """The markdown section for docs/benchmarks.md."""
    m = analyse(result)
    b = result.reply_block_s
    allowance = result.rate * 10  # ten seconds of input: noise from poll and batch timing
    backlog = m["backlog"]
    growing = [name for name, item in backlog.items() if name != "open_clocks" and _grows(item, allowance)]
    kept_up = m["classified_per_s"] >= 0.95 * m["offered_per_s"] and not growing
    verdict_memory = "PASS" if m["rss_growth_pct"] <= 5.0 else "FAIL"
    verdict_backlog = "PASS (no growth)" if not growing else "FAIL (grows: " + ", ".join(growing) + ")"
    names = {"queue_depth": "queue depth (in memory)", "unclassified": "unclassified mentions in the DB",
             "outbox_pending": "outbox pending deliveries", "open_clocks": "open clocks",
             "lag": "ingest lag (posted by the sources − stored)"}
    lines = [
        f"## Soak ({result.minutes:g} minutes at {result.rate:g} mentions/s)",
        "",
        f"Run {result.started_at}: `python -m benchmarks.soak --minutes {result.minutes:g} --rate {result.rate:g}"
        f" --threads {result.threads}`. The real daemon (`listener run`, builtin model, default `[classifier]`"
        f" but `threads = {result.threads}`) polled {SOURCES} loopback Mastodon servers through the real connector"
        " (hashtag timeline"
        f" every 5 s, thread checks), which posted {result.rate:g} customer statuses per second in total plus the"
        f" brand's replies {b:.0f} to {3 * b:.0f} s later; clocks warn at {2 * b:.0f} s and breach at"
        f" {2.5 * b:.0f} s; alerts to a"
        " loopback Slack webhook and a private Mosquitto (every mention and alert over MQTT). Sampled every"
        f" {result.sample_every:g} s; warm-up"
        f" {result.warmup_s:.0f} s; windows of {result.window_s:.0f} s. Daemon start-up (model load)"
        f" {result.startup_s:.0f} s, not counted.",
        "",
        "| measure | first window | last window | trend (per min, after warm-up) |",
        "|---|---|---|---|",
        f"| daemon RSS (MB) | {m['rss_first']:.0f} | {m['rss_last']:.0f} | growth {m['rss_growth_pct']:+.1f} %"
        f" (target <= 5 %): **{verdict_memory}**; peak {m['rss_max']:.0f} MB |",
    ]
    for name, item in backlog.items():
        lines.append(f"| {names[name]} | {item['first']:,.0f} | {item['last']:,.0f} | {item['slope_per_min']:+,.1f} |")
    lines += [
        "",
        f"Backlog: **{verdict_backlog}** (growth means the last window above the first by more than"
        f" {allowance:,.0f} items, ten seconds of input; open clocks are expected to level off at about"
        " complaints per second × time to reply, and are not part of the verdict).",
        "",
        "| throughput after warm-up | per second |",
        "|---|---|",
        f"| posted by the sources | {m['offered_per_s']:.1f} |",
        f"| stored by the daemon | {m['stored_per_s']:.1f} |",
        f"| classified | {m['classified_per_s']:.1f} |",
        f"| Slack webhook posts | {m['slack_per_s']:.1f} |",
        f"| MQTT messages (mentions and alerts) | {m['mqtt_per_s']:.1f} |",
        f"| daemon CPU (cores busy) | {m['cpu_cores']:.2f} |",
        "",
        f"The model {'kept up' if kept_up else 'did NOT keep up'} with the offered rate"
        f" ({m['classified_per_s']:.1f} of {m['offered_per_s']:.1f} mentions/s classified)."
        f" Machine load (1-min average, 2 shared cores, other jobs running): mean {m['load_mean']:.1f},"
        f" max {m['load_max']:.1f}. Database at the end: {result.db_mb:.0f} MB."
        f" Slack posts by kind: {dict(result.slack_kinds.most_common()) or 'none'};"
        f" MQTT by topic: {dict(result.mqtt_kinds.most_common()) or 'none'}."
        f" Daemon log: {dict(result.log_lines) or 'no warning or error lines'}.",
        "",
        # a fenced block: the summary is a log line, not a command to run
        f"The daemon's shutdown summary:\n\n```\n{result.summary_line}\n```" if result.summary_line else "",
        "",
        *([f"Last daemon log lines: `{' | '.join(result.log_tail)}`", ""] if result.log_lines else []),
        "<details><summary>samples</summary>",
        "",
        "| t (s) | RSS MB | queue | unclassified | outbox | open clocks | posted | stored | classified | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.samples:
        lines.append(f"| {s.t:.0f} | {s.rss_mb:.0f} | {s.queue_depth:.0f} | {s.unclassified} | {s.outbox_pending}"
                     f" | {s.open_clocks} | {s.posted} | {s.mentions} | {s.classified} | {s.load1:.1f} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def run(minutes: float = 30.0, rate: float = 50.0, threads: int = 2) -> str:
    """The soak of `make bench`: 30 minutes at 50 mentions per second, as the issue asks."""
    return report(asyncio.run(soak(minutes, rate, threads=threads, sample_every=min(30.0, minutes * 60 / 12))))


@click.command()
@click.option("--minutes", type=float, default=30.0, show_default=True, help="How long the daemon runs.")
@click.option("--rate", type=float, default=50.0, show_default=True, help="Customer mentions per second, all sources.")
@click.option("--threads", type=int, default=2, show_default=True, help="Torch threads of the builtin model.")
@click.option("--sample-every", type=float, default=30.0, show_default=True, help="Seconds between samples.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the markdown section to this file.")
@click.option("--daemon-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the daemon's log (standard error) in this file.")
def main(minutes: float, rate: float, threads: int, sample_every: float, output: Path | None,
         daemon_log: Path | None) -> None:
    """Run the soak and print its markdown section (samples stream to stdout as JSON lines)."""
    result = asyncio.run(soak(minutes, rate, threads=threads, sample_every=sample_every, progress=True,
                              keep_log=daemon_log))
    text = report(result)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
