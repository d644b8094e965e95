"""One worker of the MQTT classifier pool: take batches from the shared work topic, classify, publish the results."""

from __future__ import annotations

import importlib
import logging
import os
import queue
import socket
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from models.base import Classifier
from models.pool.client import decode_request, encode_result, make_client, shared_work_filter

if TYPE_CHECKING:
    from config.schema import ClassifierPoolSettings, ClassifierSettings, Settings

logger = logging.getLogger(__name__)


def import_classifier(path: str) -> Classifier:
    """Instantiate `module:Class` (tests and benchmarks use a fast stand-in this way); ValueError when malformed."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected module:Class, got {path!r}")
    return getattr(importlib.import_module(module_name), attr)()


class Worker:
    """One worker process: paho's thread receives, this thread classifies (keepalives never starve)."""

    def __init__(self, classifier: Classifier, settings: ClassifierPoolSettings, *, name: str | None = None) -> None:
        self.classifier = classifier
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self._inbox: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue()
        self._client = make_client(f"listener-worker-{self.name}", settings)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = lambda _c, _u, message: self._inbox.put(message)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("worker %s: broker refused the connection: %s", self.name, reason)
            return
        # Every (re)connect subscribes again; the shared group spreads batches over live workers.
        client.subscribe(shared_work_filter(self.settings.topic_prefix, self.settings.group), qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        # Tests and operators wait for this line: batches published before it reach other workers.
        logger.info("worker %s subscribed (%s)", self.name, ", ".join(str(r) for r in reasons))

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run()`."""
        self._inbox.put(None)

    def handle(self, payload: bytes | bytearray) -> tuple[str, bytes] | None:
        """Classify one work message: (reply topic, result payload), or None when it is malformed."""
        try:
            request_id, reply_to, texts = decode_request(payload)
        except (ValueError, KeyError, TypeError) as err:
            logger.warning("worker %s: skipping a malformed work message: %s", self.name, err)
            return None
        try:
            results = self.classifier.predict(texts)
        except Exception:
            # Unanswered, the chunk times out on the core, which falls back to text-by-text; we live on.
            logger.exception("worker %s: the model failed on request %s (%d texts)", self.name, request_id, len(texts))
            return None
        return reply_to, encode_result(request_id, self.name, results)

    def run(self) -> None:
        """Connect, then classify until `stop()`; paho reconnects after broker loss on its own."""
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self._client.loop_start()
        try:
            while (message := self._inbox.get()) is not None:
                answer = self.handle(message.payload)
                if answer is not None:
                    self._client.publish(answer[0], answer[1], qos=1)
        finally:
            self._client.disconnect()
            self._client.loop_stop()


def settings_from(settings: Settings | None) -> tuple[ClassifierPoolSettings, ClassifierSettings]:
    """(`[classifier.pool]`, `[classifier]` as the builtin backend) from the settings; defaults without any."""
    from config.schema import ClassifierPoolSettings, ClassifierSettings

    if settings is None:
        return ClassifierPoolSettings(), ClassifierSettings(backend="builtin")
    classifier = settings.classifier
    # The core's backend is "pool"; the worker runs the real model with the core's threshold and cache.
    return classifier.pool, ClassifierSettings.model_validate(
        {k: v for k, v in classifier.model_dump().items() if k != "pool"} | {"backend": "builtin"}
    )
