"""Daemon.classify_later: webhook mentions reach the classifier without holding Meta's request, and nothing is lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import aiohttp

from listener.daemon import Daemon
from listener.store import SyncStore
from models.base import Classification
from tests.connectors.fake_meta import PAGE_TOKEN, FakeGraph
from tests.doubles import KeywordClassifier, RecordingSink
from tests.test_meta_webhooks import APP_SECRET, PAGE, ROUTE, VERIFY, _until, feed_comment, signed

KEYS = [f"facebook:{PAGE}_20000000000000{n}_30000000000000{n}" for n in range(1, 4)]


class GatedClassifier(KeywordClassifier):
    """Blocks in predict until the test opens the gate (a slow model); `busy` says one batch is inside."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.busy = threading.Event()

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Wait for the gate, then judge by keywords."""
        self.busy.set()
        self.gate.wait(30)
        return super().predict(texts)


def _settings(make_settings: Any, url: str) -> Any:
    return make_settings(
        {"api": {"port": 0, "enabled": False},
         "listener": {"shutdown_grace": "200ms"},
         # One key in the model, one in the queue, the third waits for room.
         "classifier": {"queue_size": 1, "batch_size": 1, "max_wait": "1ms"},
         "connectors": {"facebook": {"page_id": PAGE, "access_token": "${T}", "app_secret": "${S}",
                                     "verify_token": "${V}", "base_url": url, "poll_interval": "1h",
                                     "attribute_to": ["acme"]}}},
        T=PAGE_TOKEN, S=APP_SECRET, V=VERIFY)


async def _deliver_three(daemon: Daemon) -> None:
    """Three deliveries, one comment each, each answered 200 although the classifier is stuck."""
    async with aiohttp.ClientSession() as http:
        for n in range(1, 4):
            post = f"{PAGE}_20000000000000{n}"
            payload = feed_comment(comment_id=f"{post}_30000000000000{n}", message=f"acme order {n} is broken")
            payload["entry"][0]["changes"][0]["value"]["post_id"] = post
            body, headers = signed(payload)
            answer = await asyncio.wait_for(
                http.post(f"http://127.0.0.1:{daemon.web_port}{ROUTE}", data=body, headers=headers), 10)
            assert answer.status == 200


def _classified(settings: Any) -> dict[str, bool]:
    store = SyncStore(settings.listener.database)
    try:
        rows = store.db.execute("SELECT key, classified_at FROM mentions").fetchall()
        return {key: bool(at) for key, at in rows}
    finally:
        store.close()


async def _empty_graph(aiohttp_server: Any) -> str:
    fake = FakeGraph("facebook")
    fake.edges = {k: [] for k in fake.edges}  # polling finds nothing: what is stored came by webhook
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


async def test_a_full_queue_does_not_hold_the_webhook_and_every_key_is_classified(
    aiohttp_server, make_settings  # type: ignore[no-untyped-def]
) -> None:
    settings = _settings(make_settings, await _empty_graph(aiohttp_server))
    model = GatedClassifier()
    daemon = Daemon(settings, classifier=model, sinks={"recording": RecordingSink()})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until(lambda: daemon.web_port is not None)
        await _deliver_three(daemon)
        assert sorted(_classified(settings)) == sorted(KEYS)  # stored before each 200
        await _until(model.busy.is_set)
        model.gate.set()
        await _until(lambda: all(_classified(settings).values()))
    finally:
        model.gate.set()
        daemon.stop()
        await task


async def test_keys_still_waiting_at_shutdown_are_classified_at_the_next_start(
    aiohttp_server, make_settings  # type: ignore[no-untyped-def]
) -> None:
    settings = _settings(make_settings, await _empty_graph(aiohttp_server))
    model = GatedClassifier()
    daemon = Daemon(settings, classifier=model, sinks={"recording": RecordingSink()})
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _until(lambda: daemon.web_port is not None)
        await _deliver_three(daemon)
        await _until(model.busy.is_set)
        daemon.stop()
        await asyncio.wait_for(task, 10)
        # The daemon leaves no task behind waiting for room in a queue nobody reads any more.
        waiting = [t for t in asyncio.all_tasks()
                   if getattr(t.get_coro(), "__qualname__", "") == "Daemon._enqueue"]
        assert not waiting
        assert _classified(settings) == dict.fromkeys(KEYS, False)
    finally:
        model.gate.set()
    await Daemon(settings, classifier=KeywordClassifier(), sinks={"recording": RecordingSink()}).run_once()
    assert _classified(settings) == dict.fromkeys(KEYS, True)
