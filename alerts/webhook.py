"""Generic webhook sink: each event as signed JSON to one URL, so it can be wired into anything.

Every request carries `Idempotency-Key` (the event's stable id: a receiver drops the rare repeat
after a crash), `X-Listener-Timestamp` and `X-Listener-Signature: v1=<hex HMAC-SHA256 of
"<timestamp>." + body>`; `verify` is the reference check a receiver can copy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote

from alerts._http import raise_for, request
from alerts.base import Event, HttpSink
from alerts.payload import SCHEMA_VERSION, encode, encode_json
from config.sinks import WebhookSettings

SIGNATURE_HEADER = "X-Listener-Signature"
TIMESTAMP_HEADER = "X-Listener-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value: `v1=` + hex HMAC-SHA256 over `b"<timestamp>." + body`."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: datetime,
           tolerance: float = TOLERANCE_SECONDS) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature (compared in constant time)."""
    try:
        timestamp = int(headers.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False  # an old request replayed by someone who captured it
    given = headers.get(SIGNATURE_HEADER, "")
    return any(hmac.compare_digest(sign(secret, timestamp, body), v.strip()) for v in given.split(","))


class WebhookSink(HttpSink[WebhookSettings]):
    """POST every accepted event (and digests, when noise controls are on) as signed JSON."""

    name: ClassVar[str] = "webhook"

    def setup(self) -> None:
        """URL, signing secret and wanted kinds."""
        assert self._settings.url is not None and self._settings.secret is not None  # validated by the settings
        # Off by default: a machine consumer wants every event it subscribed to.
        self.noise_controls = self._settings.noise_controls
        self._url = self._settings.url.get_secret_value().strip()
        self._secret = self._settings.secret.get_secret_value().encode("utf-8")
        self._kinds = frozenset(self._settings.kinds)

    def accepts(self, event: Event) -> bool:
        """The configured kinds (every alert kind by default; add "mention" for every classified mention)."""
        return event.kind.value in self._kinds

    async def send(self, event: Event, previous_ref: str | None) -> str | None:
        """POST the event; a 2xx answer is delivery. Nothing to remember between events."""
        await self._post(encode(event), event.id, event.kind.value)
        return None

    async def send_digest(
        self, channel: str, events: Sequence[Event], reasons: Sequence[str], digest_id: str
    ) -> str | None:
        """POST one `digest` document listing the alerts noise controls held back."""
        body = encode_json({
            "schema_version": SCHEMA_VERSION, "id": digest_id, "kind": "digest",
            "created_at": self._clock.now().isoformat(), "reasons": list(reasons),
            "events": [event.to_dict() for event in events],
        })
        await self._post(body, digest_id, "digest")
        return None


    async def _post(self, body: bytes, key: str, kind: str) -> None:
        now = self._clock.now()
        timestamp = int(now.timestamp())
        headers = {name: value.get_secret_value() for name, value in self._settings.headers.items()}
        headers.update({
            "Content-Type": "application/json; charset=utf-8",
            # Ids come from sources: anything but plain printable ASCII is percent-encoded (no header injection).
            IDEMPOTENCY_HEADER: quote(key, safe="!#$&'()*+,/:;=?@[]~"),
            "X-Listener-Event": kind,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        })
        what = f"webhook: POST of {key}"
        answer = await request(self._session, "POST", self._url, what=what, timeout=self._timeout,
                               body=body, headers=headers)
        raise_for(answer, what, self._clock.now(), detail=answer.text if answer.status >= 400 else "")
