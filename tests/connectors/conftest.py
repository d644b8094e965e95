"""Shared fixtures for the connector tests: brands, a client session and the fake Mastodon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from connectors.base import BrandView
from listener.clock import FakeClock
from tests.connectors.fake_mastodon import FakeMastodon

TOKEN = "test-token-3f9a2b7c"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def brands() -> list[BrandView]:
    """Acme (ours, with its own account) and Globex (a competitor without one here)."""
    return [
        BrandView(name="acme", keywords=("acme", "アクメ"), exclude=("acme anvil",), handles=("@acme",)),
        BrandView(name="globex", keywords=("globex",), handles=()),
    ]


@pytest.fixture
def clock() -> FakeClock:
    """A frozen clock at NOW."""
    return FakeClock(NOW)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The shared session the daemon would pass in."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake(aiohttp_server) -> AsyncIterator[tuple[FakeMastodon, str]]:  # type: ignore[no-untyped-def]
    """A running fake Mastodon that wants TOKEN, and its base URL."""
    server_state = FakeMastodon(token=TOKEN, now=NOW)
    server = await aiohttp_server(server_state.app())
    yield server_state, str(server.make_url("")).rstrip("/")
