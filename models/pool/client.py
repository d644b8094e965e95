"""Classification over MQTT: the wire format and `PoolClassifier`, the core's side of the worker pool.

The core publishes each batch (QoS 1) to `<prefix>/work/<core_id>`; workers share the
subscription `$share/<group>/<prefix>/work/+` so the broker hands each batch to one of them.
Results come back on `<prefix>/results/<core_id>`. A batch not answered within `timeout` is
published again under the same request id (a worker may have died mid-batch); the first answer
per request id wins, so every text is classified once from the core's point of view.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from config.schema import ClassifierPoolSettings
from listener.domain import Sentiment
from models.base import Classification

logger = logging.getLogger(__name__)

WIRE_VERSION = 1


def work_topic(prefix: str, core_id: str) -> str:
    """Topic a core publishes its batches to."""
    return f"{prefix}/work/{core_id}"


def results_topic(prefix: str, core_id: str) -> str:
    """Topic a core receives its results on."""
    return f"{prefix}/results/{core_id}"


def shared_work_filter(prefix: str, group: str) -> str:
    """The MQTT 5 shared subscription every worker uses: each batch goes to one worker of `group`."""
    return f"$share/{group}/{prefix}/work/+"


def encode_request(request_id: str, reply_to: str, texts: Sequence[str]) -> bytes:
    """A work message: the request id, where to answer, and the texts with their positions."""
    items = [{"i": i, "text": t} for i, t in enumerate(texts)]
    body = {"v": WIRE_VERSION, "id": request_id, "reply_to": reply_to, "items": items}
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")


def decode_request(payload: bytes | bytearray) -> tuple[str, str, list[str]]:
    """(request id, reply topic, texts) from a work message; ValueError when malformed."""
    body = json.loads(payload)
    if not isinstance(body, dict) or body.get("v") != WIRE_VERSION:
        raise ValueError("not a pool request of a known version")
    items = sorted(body["items"], key=lambda item: int(item["i"]))
    return str(body["id"]), str(body["reply_to"]), [str(item["text"]) for item in items]


def encode_result(request_id: str, worker: str, results: Sequence[Classification]) -> bytes:
    """A result message: one Classification per text, in request order."""
    body = {"v": WIRE_VERSION, "id": request_id, "worker": worker, "results": [c.to_dict() for c in results]}
    return json.dumps(body).encode("utf-8")


def classification_from_dict(data: dict[str, Any]) -> Classification:
    """Rebuild a Classification from `Classification.to_dict()` output."""
    fields = dict(data)
    sentiment = fields.get("sentiment")
    fields["sentiment"] = Sentiment(sentiment) if sentiment else None
    return Classification(**fields)


def decode_result(payload: bytes | bytearray) -> tuple[str, str, list[Classification]]:
    """(request id, worker name, classifications) from a result message; ValueError when malformed."""
    body = json.loads(payload)
    if not isinstance(body, dict) or body.get("v") != WIRE_VERSION:
        raise ValueError("not a pool result of a known version")
    return str(body["id"]), str(body.get("worker", "?")), [classification_from_dict(r) for r in body["results"]]


class PoolTimeout(RuntimeError):
    """No worker answered a batch after every attempt."""


@dataclass(slots=True)
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    results: list[Classification] | None = None


@dataclass(slots=True)
class PoolStats:
    """Counters for metrics and tests."""

    batches: int = 0
    republished: int = 0
    duplicates: int = 0
    malformed: int = 0
    workers: Counter[str] = field(default_factory=Counter)


def make_client(client_id: str, settings: ClassifierPoolSettings) -> mqtt.Client:
    """An MQTT 5 paho client with credentials and reconnect back-off set (not yet connected)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    client.reconnect_delay_set(min_delay=0.05, max_delay=2)  # type: ignore[arg-type]  # paho takes float seconds
    client.on_socket_open = _no_delay
    return client


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # Small request/response messages: Nagle plus delayed ACKs would add ~40 ms to each hop.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PoolClassifier:
    """Classifier protocol over MQTT: `predict` blocks the classifier thread until a worker answers."""

    def __init__(self, settings: ClassifierPoolSettings, *, core_id: str | None = None) -> None:
        self.settings = settings
        self.model_id = settings.model_id
        self.core_id = core_id or uuid.uuid4().hex[:12]
        self.stats = PoolStats()
        self._work = work_topic(settings.topic_prefix, self.core_id)
        self._results = results_topic(settings.topic_prefix, self.core_id)
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._client = make_client(f"listener-core-{self.core_id}", settings)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._started = False

    def start(self) -> None:
        """Connect (in paho's network thread, which also reconnects after broker loss)."""
        if not self._started:
            self._started = True
            self._client.connect_async(self.settings.host, self.settings.port, keepalive=30)
            self._client.loop_start()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            logger.warning("pool broker refused the connection: %s", reason)
            return
        # Subscribed again on every (re)connect: a clean session forgets subscriptions.
        client.subscribe(self._results, qos=1)
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if self._started:  # not our own close()
            logger.warning("pool broker connection lost (%s); paho reconnects", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            request_id, worker, results = decode_result(message.payload)
        except (ValueError, KeyError, TypeError) as err:
            self.stats.malformed += 1
            logger.warning("skipping a malformed pool result on %s: %s", message.topic, err)
            return
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None or pending.done.is_set():
                # A re-published batch answered twice, or an answer after we gave up: keep the first.
                self.stats.duplicates += 1
                return
            pending.results = results
            pending.done.set()
            self.stats.workers[worker] += 1
        logger.debug("request %s answered by %s", request_id, worker)

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Publish the batch as chunks (so several workers share it), wait for all, re-publish laggards."""
        if not texts:
            return []
        self.start()
        size = self.settings.chunk_size
        chunks = {uuid.uuid4().hex: list(texts[i : i + size]) for i in range(0, len(texts), size)}
        pending = {request_id: _Pending() for request_id in chunks}
        with self._lock:
            self._pending.update(pending)
        timeout = self.settings.timeout.total_seconds()
        try:
            for attempt in range(self.settings.attempts):
                waiting = [rid for rid, p in pending.items() if not p.done.is_set()]
                if attempt:
                    self.stats.republished += len(waiting)
                    logger.warning("%d chunks unanswered after %.1fs; publishing them again", len(waiting), timeout)
                self._connected.wait(timeout)
                for request_id in waiting:
                    # Same request id on every attempt: the first answer wins, later ones are duplicates.
                    request = encode_request(request_id, self._results, chunks[request_id])
                    self._client.publish(self._work, request, qos=1)
                deadline = time.monotonic() + timeout
                if all(pending[rid].done.wait(max(0.0, deadline - time.monotonic())) for rid in waiting):
                    return self._collect(chunks, pending)
            raise PoolTimeout(f"no worker answered {len(texts)} texts after {self.settings.attempts} attempts")
        finally:
            with self._lock:
                # Forgotten: a late answer to these ids finds nothing and is counted as a duplicate.
                for request_id in chunks:
                    self._pending.pop(request_id, None)

    def _collect(self, chunks: dict[str, list[str]], pending: dict[str, _Pending]) -> list[Classification]:
        out: list[Classification] = []
        for request_id, chunk in chunks.items():
            results = pending[request_id].results or []
            if len(results) != len(chunk):
                raise PoolTimeout(f"a worker answered {len(results)} results for {len(chunk)} texts")
            out.extend(results)
        self.stats.batches += 1
        self.model_id = out[0].model_id
        return out
