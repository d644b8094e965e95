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


@pytest.mark.parametrize("type_name", ["mastodon", "reddit", "x", "trustpilot", "google_play"])
def test_every_endpoint_key_is_checked_once_by_the_base(type_name: str) -> None:
    """`base_url` / `token_url` / `auth_url` are validated by ConnectorConfig for every connector that has them."""
    from pydantic import ValidationError

    from connectors.base import ENDPOINT_KEYS
    from connectors.registry import connector_class

    config = connector_class(type_name).Config
    keys = [k for k in ENDPOINT_KEYS if k in config.model_fields]
    assert keys
    for key in keys:
        with pytest.raises(ValidationError, match=rf"{key}\n.*must be an http\(s\) URL such as https://"):
            config.model_validate({"type": type_name, "brand": "acme", "package_name": "a.b", key: "ftp://nowhere"})


@pytest.mark.parametrize(("type_name", "given", "message"), [
    ("facebook", {"page_id": "104"}, r"set access_token \(a Page access token\)"),
    ("facebook", {"access_token": "tok"}, "set page_id"),
    ("instagram", {"access_token": "tok"}, "set ig_user_id"),
    ("linkedin", {"organization_id": "5"}, r"set access_token \(r_organization_social_feed of a Page admin\)"),
    ("threads", {"access_token": "tok", "username": ""}, r"set username \(the brand's Threads username"),
])
def test_an_enabled_table_names_the_key_it_lacks(type_name: str, given: dict[str, str], message: str) -> None:
    from pydantic import ValidationError

    from connectors.registry import connector_class

    config = connector_class(type_name).Config
    with pytest.raises(ValidationError, match=message):
        config.model_validate({"type": type_name, **given})
    config.model_validate({"type": type_name, "enabled": False, **given})  # a disabled table may leave them unset
