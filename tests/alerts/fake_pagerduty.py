"""A loopback fake of PagerDuty's Events API v2 (`POST /v2/enqueue`), answering as the docs say.

202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`; 400 `{"status":
"invalid event", "message": "Event object is invalid", "errors": [...]}`; 429 when scripted. Alerts
are kept by (routing key, dedup_key): a trigger on an open alert adds to its log, a resolve closes
it, and a trigger after that opens a new alert, as PagerDuty does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.alerts.fake_http import ScriptedFake

ROUTING_KEY = "R0UT1NGKEYsecret0123456789abcdef"  # 32 characters, like an integration key
PATH = "/v2/enqueue"
_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Alert:
    """One PagerDuty alert: its triggers (event documents) and whether it was resolved."""

    routing_key: str
    dedup_key: str
    triggers: list[dict[str, Any]] = field(default_factory=list)
    resolved: bool = False


class FakePagerDuty(ScriptedFake):
    """The Events API v2 endpoint with its alert state."""

    def __init__(self, keys: tuple[str, ...] = (ROUTING_KEY,)) -> None:
        super().__init__()
        self.keys = set(keys)
        self.alerts: list[Alert] = []
        self.dropped: list[dict[str, Any]] = []  # resolves for no open alert
        self.accepted: list[dict[str, Any]] = []  # every event answered with 202, in order

    def app(self) -> web.Application:
        """The aiohttp application serving /v2/enqueue."""
        app = web.Application()
        app.router.add_post(PATH, self._enqueue)
        return app

    def open_alert(self, routing_key: str, dedup: str) -> Alert | None:
        """The open alert for this key pair, if any."""
        for alert in self.alerts:
            if alert.routing_key == routing_key and alert.dedup_key == dedup and not alert.resolved:
                return alert
        return None

    @staticmethod
    def _invalid(*errors: str) -> web.Response:
        return web.json_response(
            {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}, status=400)

    async def _enqueue(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if (answer := self.scripted()) is not None:
            return answer
        event = seen.body
        if not isinstance(event, dict):
            return web.json_response({"status": "invalid event", "message": "Event object is invalid",
                                      "errors": ["Malformed JSON"]}, status=400)
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            return self._invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return self._invalid("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            return self._invalid("'dedup_key' must be a string of at most 255 characters")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                return self._invalid("'payload' is missing or blank")
            for name in ("summary", "source", "severity"):
                if not isinstance(payload.get(name), str) or not payload[name]:
                    return self._invalid(f"'payload.{name}' is missing or blank")
            if payload["severity"] not in _SEVERITIES or len(payload["summary"]) > 1024:
                return self._invalid("'payload.severity' or 'payload.summary' is invalid")
        elif dedup is None:
            return self._invalid("'dedup_key' is missing or blank")
        self.accepted.append(event)
        if key not in self.keys:
            # PagerDuty accepts the event and drops it (no service has the key); the fake counts it.
            self.dropped.append(event)
            return web.json_response({"status": "success", "message": "Event processed", "dedup_key": dedup},
                                     status=202)
        alert = self.open_alert(key, dedup) if dedup else None
        if action == "trigger":
            if alert is None:
                alert = Alert(key, dedup or f"generated-{len(self.alerts)}")
                self.alerts.append(alert)
            alert.triggers.append(event)
        elif action == "resolve":
            if alert is None:
                self.dropped.append(event)
            else:
                alert.resolved = True
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": alert.dedup_key if alert else dedup}, status=202)
