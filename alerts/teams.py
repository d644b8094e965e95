"""Microsoft Teams sink: an Adaptive Card per event through a Workflows ("When a Teams webhook request
is received") URL; the old Office 365 connector webhooks are retired.

A workflow posts a new message per request and cannot edit one, so later events of a case post a new
card showing the updated state and the case's earlier states (remembered in the sink's ref).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from alerts._http import raise_for, request
from alerts.base import Event, EventKind, HttpSink
from alerts.routes import first_match
from alerts.teams_cards import HISTORY_SHOWN, history_entry, render, render_digest
from config.sinks import TeamsRoute, TeamsSettings

_REF_PREFIX = "teams:"
_SEPARATOR = " · "


@dataclass(frozen=True, slots=True)
class _Target:
    """A workflow URL and the label noise controls count it by."""

    label: str
    url: str


def _error_code(data: Any) -> str:
    """The Logic Apps error code (`{"error": {"code": ...}}`), e.g. WorkflowRequestsThrottled."""
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else ""


class TeamsSink(HttpSink[TeamsSettings]):
    """Post alerts as Adaptive Cards; routes pick the workflow (channel) per brand, policy, source and kind."""

    name: ClassVar[str] = "teams"
    max_in_flight = 1  # one card at a time: a workflow posts to one channel, where arrival order is reading order

    def setup(self) -> None:
        """The default workflow and the routes, each a workflow URL."""
        assert self._settings.webhook_url is not None  # validated by the settings
        self._kinds = frozenset(self._settings.kinds)
        self._default = _Target("teams", self._settings.webhook_url.get_secret_value().strip())
        self._routes: list[tuple[TeamsRoute, _Target]] = [
            (route, _Target(route.label or f"teams route {number}", route.webhook_url.get_secret_value().strip()))
            for number, route in enumerate(self._settings.routes, start=1)
        ]
        self._by_label = {t.label: t for _, t in reversed(self._routes)}
        self._by_label.setdefault(self._default.label, self._default)

    def accepts(self, event: Event) -> bool:
        """Alerts of the configured kinds; a reply only when the complaint was alerted on before."""
        if event.kind is EventKind.REPLIED and not event.alerted:
            return False
        return event.kind is not EventKind.MENTION and event.kind.value in self._kinds

    def target(self, event: Event) -> _Target:
        """The first route that matches `event`, else the default workflow."""
        return first_match(self._routes, event, self._default)

    def channel_for(self, event: Event) -> str:
        """The route label (or "teams") noise controls count `event` against."""
        return self.target(event).label

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """Post the card; the ref remembers the case's states for the next card."""
        history = _history(previous_ref)
        await self._post(self.target(event), render(event, now=self._clock.now(), history=history), event.id)
        entries = [*history, history_entry(event)][-HISTORY_SHOWN:]
        return _REF_PREFIX + _SEPARATOR.join(entries)

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """One card listing the alerts held back from `channel`."""
        target = self._by_label.get(channel, self._default)
        await self._post(target, render_digest(events, reasons, now=self._clock.now(), digest_id=digest_id), digest_id)
        return None


    async def _post(self, target: _Target, message: dict[str, Any], key: str) -> None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8", "replace")
        what = f"teams: post of {key} to {target.label}"
        answer = await request(self._session, "POST", target.url, what=what, timeout=self._timeout, body=body,
                               headers={"Content-Type": "application/json"})
        raise_for(answer, what, self._clock.now(), detail=_error_code(answer.data))


def _history(ref: str | None) -> list[str]:
    if not ref or not ref.startswith(_REF_PREFIX):
        return []
    return [entry for entry in ref.removeprefix(_REF_PREFIX).split(_SEPARATOR) if entry]
