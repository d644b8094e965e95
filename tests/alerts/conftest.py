"""Fixtures for the sink tests: the fake Slack, a shared HTTP session, events and the broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from alerts.base import Event, EventKind
from listener.clock import FakeClock
from tests.alerts.fake_slack import FakeSlack
from tests.brokers import mosquitto, mosquitto_tls  # noqa: F401

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    """A clock frozen at NOW."""
    return FakeClock(NOW)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared HTTP session the daemon would pass to every sink."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client_session:
        yield client_session


@pytest.fixture
async def fake_slack(aiohttp_server: Callable[..., Any]) -> AsyncIterator[tuple[FakeSlack, TestServer]]:
    """The fake Slack and its running loopback server."""
    fake = FakeSlack()
    server = await aiohttp_server(fake.app())
    yield fake, server


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """Build an Event with sensible complaint defaults; keyword arguments override."""

    def build(kind: EventKind = EventKind.BREACH, **overrides: Any) -> Event:
        mention_at = NOW - timedelta(minutes=61)
        values: dict[str, Any] = {
            "id": f"mastodon:109:{kind.value}",
            "kind": kind,
            "brand": "acme",
            "thread": "mastodon:109",
            "created_at": NOW,
            "source": "mastodon",
            "mention_key": "mastodon:109",
            "author": "@dana@example.social",
            "text": "My acme router dropped the connection again, third time today.",
            "url": "https://example.social/@dana/109",
            "sentiment": "negative",
            "p_complaint": 0.93,
            "language": "en",
            "mention_at": mention_at,
            "deadline": mention_at + timedelta(minutes=60),
            "state": "",
        }
        values.update(overrides)
        return Event(**values)

    return build
