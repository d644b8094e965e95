"""Fixtures for the analytics tests: one seeded database per session (read-only use), settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.loader import parse_config
from config.schema import Settings
from tests.analytics.seed import Seeded, seed_database


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """1,500 mentions and their clocks over 100 days (tests must not write to it)."""
    return seed_database(tmp_path_factory.mktemp("analytics") / "seeded.db")


def analytics_settings(db: Path, **api: Any) -> Settings:
    """Settings with acme (ours) and globex (competitor) on `db`."""
    return parse_config(
        {
            "listener": {"database": str(db)},
            "brands": {"acme": {"keywords": ["acme"]}, "globex": {"keywords": ["globex"], "competitor": True}},
            "api": api,
        },
        env={},
    )


@pytest.fixture
def seeded_settings(seeded: Seeded) -> Settings:
    """Settings pointing at the seeded database."""
    return analytics_settings(seeded.path)
