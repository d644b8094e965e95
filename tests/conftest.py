"""Shared fixtures: settings on a temporary database, test doubles, the Mosquitto broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config.loader import parse_config
from config.schema import Settings
from listener.clock import FakeClock

try:  # the broker fixture lives with the MQTT tests' helpers
    from tests.brokers import mosquitto, mosquitto_tls  # noqa: F401
except ImportError:  # pragma: no cover
    pass

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed Monday morning."""
    return FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build validated settings on a temporary database from a dict."""

    def build(data: dict[str, Any] | None = None, **env: str) -> Settings:
        data = dict(data or {})
        data.setdefault("listener", {}).setdefault("database", str(tmp_path / "listener.db"))
        data.setdefault("brands", {"acme": {"keywords": ["acme"]}})
        return parse_config(data, env=env)

    return build
