"""A connector is generic over its config: mypy sees `self.config` as the connector's own config type,
and building a connector with another connector's config is a type error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = '''
from typing import assert_type

import aiohttp

from connectors._reviews import ReviewConfig
from connectors._social import HttpConnectorBase
from connectors.x import XConfig, XConnector
from connectors.yelp import YelpConfig, YelpConnector


def narrowed(x: XConnector, yelp: YelpConnector) -> None:
    assert_type(x.config, XConfig)
    assert_type(yelp.config, YelpConfig)


def wrong(config: YelpConfig, session: aiohttp.ClientSession) -> None:
    XConnector("x", config, [], session)


class Mismatched(HttpConnectorBase[ReviewConfig]):
    pass
'''


@pytest.mark.slow
def test_mypy_sees_each_connectors_own_config(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-error-summary",
         "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    errors = [line.split(": error: ", 1)[1] for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == [
        'Argument 2 to "XConnector" has incompatible type "YelpConfig"; expected "XConfig"  [arg-type]',
        'Type argument "ReviewConfig" of "HttpConnectorBase" must be a subtype of "HttpSourceConfig"  [type-var]',
    ], result.stdout + result.stderr


def test_each_connector_schema_is_its_type_argument() -> None:
    """`class XConnector(HttpConnectorBase[XConfig])` is all a connector says: its `Config` follows."""
    from typing import get_args

    from connectors.base import ConnectorBase, ConnectorConfig
    from connectors.registry import connector_class, known_types

    for type_name in known_types():
        cls = connector_class(type_name)
        assert issubclass(cls.Config, ConnectorConfig), type_name
        if issubclass(cls, ConnectorBase):
            declared = [a for b in cls.__orig_bases__ for a in get_args(b)]
            assert declared == [cls.Config], type_name
