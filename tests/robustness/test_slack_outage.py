"""Slack answering 500 and 429 for ten minutes of fake time: every alert arrives afterwards, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import aiohttp
from aiohttp import web

from alerts.base import Event, EventKind
from alerts.slack import SlackSink
from config.schema import SlackSettings
from listener.clock import FakeClock
from listener.dispatch import Dispatcher
from listener.store import Store, SyncStore

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OUTAGE = timedelta(minutes=10)
HOOK = "/services/T0FAKE/B0FAKE/outageSECRET"


async def test_slack_outage_then_everything_delivered_in_order(aiohttp_server, tmp_path) -> None:
    """500s and 429s (with Retry-After) for 10 fake minutes lose nothing and keep the order."""
    clock = FakeClock(START)
    received: list[str] = []
    refused = {"500": 0, "429": 0}
    asked: list[tuple[datetime, int]] = []  # (fake time, status) of every request

    async def webhook(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        if clock.now() < START + OUTAGE:
            kind = "429" if sum(refused.values()) % 2 else "500"
            refused[kind] += 1
            asked.append((clock.now(), int(kind)))
            if kind == "429":
                return web.Response(status=429, text="rate_limited", headers={"Retry-After": "30"})
            return web.Response(status=500, text="internal_error")
        received.append(body["text"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(HOOK, webhook)
    server = await aiohttp_server(app)
    store = await Store(tmp_path / "db.sqlite").open()
    async with aiohttp.ClientSession() as session:
        sink = SlackSink(SlackSettings(webhook_url=str(server.make_url(HOOK)), timeout="5s"), session, clock=clock)
        dispatcher = Dispatcher(store, {"slack": sink}, clock, retry_base=2.0, retry_max=60.0)
        texts = []
        for i in range(30):
            event = Event(id=f"e{i}", kind=EventKind.BREACH, brand="acme", thread=f"m{i}", created_at=clock.now(),
                          source="social", mention_key=f"m{i}", author=f"@u{i}", text=f"complaint number {i:02d}")
            texts.append(event.text)
            await store.call(SyncStore.enqueue, event, dispatcher.route)
        passes = 0
        while clock.now() < START + OUTAGE + timedelta(minutes=3):
            await dispatcher.dispatch_once()
            clock.advance(timedelta(seconds=5))
            passes += 1
    await store.close()
    assert refused["500"] > 0 and refused["429"] > 0
    assert passes < 1000
    # After a 429 with Retry-After: 30, Slack is left alone for 30 s.
    for (when, status), (after, _) in pairwise(asked):
        if status == 429:
            assert after - when >= timedelta(seconds=30)
    # Every alert once, in the order it was queued (the fallback text carries the mention text).
    order = [next(i for i, t in enumerate(texts) if t in line) for line in received]
    assert order == list(range(30))
