"""Built-in connector types by name, imported lazily by dotted path."""

from __future__ import annotations

import importlib
from typing import Any

BUILTIN: dict[str, str] = {
    "jsonl": "connectors.jsonl:JsonlConnector",
    "mastodon": "connectors.mastodon:MastodonConnector",
}


def connector_class(type_name: str) -> Any:
    """Import and return the connector class registered as `type_name`."""
    try:
        dotted = BUILTIN[type_name]
    except KeyError:
        raise KeyError(type_name) from None
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def known_types() -> list[str]:
    """Names of every connector type this build knows."""
    return sorted(BUILTIN)
