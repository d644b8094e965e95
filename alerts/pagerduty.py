"""PagerDuty sink (Events API v2): trigger the case's alert on breach or escalation, resolve it on reply.

`dedup_key` is the case id, so PagerDuty itself folds repeats (an escalation, a retry after a crash)
into the one open alert; a resolve for a case it never saw is dropped by PagerDuty, harmlessly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from alerts._format import body_text, facts, one_line, safe_http_url, title, truncate
from alerts._http import raise_for, request
from alerts.base import Event, EventKind, HttpSink
from alerts.routes import first_match
from config.sinks import PagerDutyRoute, PagerDutySettings
from listener.errors import SinkError
from listener.http import parse_retry_after

SUMMARY_MAX = 1024
DEDUP_MAX = 255
# PagerDuty asks for "a backoff of a few minutes" after a 429 and sends no Retry-After.
RATE_LIMIT_WAIT = 60.0
_REF_PREFIX = "pd:"


@dataclass(frozen=True, slots=True)
class _Service:
    """A routing key and the label logs, refs and noise controls know it by."""

    label: str
    routing_key: str


def dedup_key(case: str) -> str:
    """The case id, or (beyond PagerDuty's 255 characters) a stable hash of it."""
    if len(case) <= DEDUP_MAX:
        return case
    return "listener:" + hashlib.sha256(case.encode("utf-8", "replace")).hexdigest()


class PagerDutySink(HttpSink[PagerDutySettings]):
    """Page on breaches and escalations; resolve when the brand replied."""

    name: ClassVar[str] = "pagerduty"

    def setup(self) -> None:
        """The default service and the routes, each a routing key."""
        assert self._settings.routing_key is not None  # validated by the settings
        # Off by default: PagerDuty's own schedules and dedup decide who is woken.
        self.noise_controls = self._settings.noise_controls
        self._trigger_on = frozenset(self._settings.trigger_on)
        self._default = _Service("pagerduty", self._settings.routing_key.get_secret_value().strip())
        self._routes: list[tuple[PagerDutyRoute, _Service]] = [
            (route, _Service(route.label or f"pagerduty route {n}", route.routing_key.get_secret_value().strip()))
            for n, route in enumerate(self._settings.routes, start=1)
        ]
        self._by_label = {s.label: s for _, s in reversed(self._routes)}
        self._by_label.setdefault(self._default.label, self._default)

    def accepts(self, event: Event) -> bool:
        """The trigger kinds, and replies to complaints that were alerted on (they resolve)."""
        if event.kind is EventKind.REPLIED:
            return event.alerted
        return event.kind.value in self._trigger_on

    def service(self, event: Event) -> _Service:
        """The first route that matches `event`, else the default service."""
        return first_match(self._routes, event, self._default)

    def channel_for(self, event: Event) -> str:
        """The service label noise controls count against (when they are on)."""
        return self.service(event).label

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Trigger or resolve; the ref names the service, so the resolve goes where the trigger went."""
        remembered = self._by_label.get((previous_ref or "").removeprefix(_REF_PREFIX).rpartition(":")[0])
        service = remembered if remembered is not None and event.kind is EventKind.REPLIED else self.service(event)
        if event.kind is EventKind.REPLIED:
            document: dict[str, Any] = {
                "routing_key": service.routing_key, "event_action": "resolve", "dedup_key": dedup_key(event.thread)}
            state = "resolved"
        else:
            document = self._trigger(event, service)
            state = "triggered"
        await self._enqueue(document, event.id)
        return f"{_REF_PREFIX}{service.label}:{state}"


    def _trigger(self, event: Event, service: _Service) -> dict[str, Any]:
        now = self._clock.now()
        who = one_line(event.author)
        text = one_line(body_text(event))
        summary = f"{title(event)} · {one_line(event.brand or event.source)}" + (f" · {who}" if who else "")
        summary += f": {text}" if text else ""
        details: dict[str, Any] = {label.lower(): value for label, value in facts(event, now)}
        details.update({"event_id": event.id, "case": event.thread, "text": body_text(event)[:4000]})
        policy = event.policy_name
        payload: dict[str, Any] = {
            "summary": truncate(summary, SUMMARY_MAX),
            "source": truncate(f"listener/{one_line(event.source) or 'listener'}", 255),
            "severity": self._settings.severity.get(event.kind.value, "error"),
            "timestamp": event.created_at.isoformat(),
            "component": truncate(one_line(event.brand), 255) or "listener",
            "class": event.kind.value,
            "custom_details": details,
        }
        if policy:
            payload["group"] = truncate(one_line(policy), 255)
        document: dict[str, Any] = {
            "routing_key": service.routing_key, "event_action": "trigger", "dedup_key": dedup_key(event.thread),
            "payload": payload, "client": "listener",
        }
        if self._settings.client_url:
            document["client_url"] = self._settings.client_url
        if url := safe_http_url(event.url):
            document["links"] = [{"href": url, "text": "Open post"}]
        return document

    async def _enqueue(self, document: dict[str, Any], key: str) -> None:
        what = f"pagerduty: {document['event_action']} for {key}"
        body = json.dumps(document, ensure_ascii=False).encode("utf-8", "replace")
        answer = await request(self._session, "POST", self._settings.url, what=what, timeout=self._timeout,
                               body=body, headers={"Content-Type": "application/json"})
        if answer.status == 429:
            wait = parse_retry_after(answer.headers.get("Retry-After"), self._clock.now())
            raise SinkError(f"{what}: rate limited", retry_after=wait if wait is not None else RATE_LIMIT_WAIT)
        raise_for(answer, what, self._clock.now(), detail=_problem(answer.data))


def _problem(data: Any) -> str:
    """PagerDuty's `{"status", "message", "errors": [...]}` as one line (it may quote our input)."""
    if not isinstance(data, dict):
        return ""
    listed = data.get("errors")
    errors: list[Any] = listed if isinstance(listed, list) else []
    parts = [str(data.get("message") or ""), *(str(e) for e in errors[:3])]
    return "; ".join(p for p in parts if p)
