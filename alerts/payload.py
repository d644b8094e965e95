"""The JSON form of an event that machine consumers receive (MQTT, the generic webhook)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from alerts.base import Event

SCHEMA_VERSION = 1


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def event_data(event: Event) -> dict[str, Any]:
    """`Event.to_dict()` plus `schema_version`."""
    return {"schema_version": SCHEMA_VERSION, **event.to_dict()}


def encode_json(data: Any) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate in scraped text becomes "?" rather than failing."""
    text = json.dumps(data, ensure_ascii=False, default=_json_default, separators=(",", ":"))
    return text.encode("utf-8", "replace")


def encode(event: Event) -> bytes:
    """The event's JSON payload as UTF-8."""
    return encode_json(event_data(event))
