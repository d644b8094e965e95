"""A loopback receiver of the generic webhook that checks signatures as docs/alerts.md tells users to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from alerts.webhook import IDEMPOTENCY_HEADER, verify
from tests.alerts.fake_http import ScriptedFake

SECRET = "whsec-test-SECRETvalue-123"
PATH = "/hooks/listener"


class FakeReceiver(ScriptedFake):
    """Accepts signed JSON (204), refuses bad signatures (401); `unique` drops repeats by Idempotency-Key."""

    def __init__(self, secret: str = SECRET, now: Any = None) -> None:
        super().__init__()
        self.secret = secret.encode()
        self.now = now or (lambda: datetime.now(UTC))
        self.accepted: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.rejected = 0

    def app(self) -> web.Application:
        """The aiohttp application serving the hook."""
        app = web.Application()
        app.router.add_post(PATH, self._hook)
        return app

    @property
    def unique(self) -> dict[str, dict[str, Any]]:
        """Accepted bodies by idempotency key: what a receiver that de-duplicates keeps."""
        return dict(zip(self.keys, self.accepted, strict=True))

    async def _hook(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if not verify(self.secret, request.headers, seen.raw, self.now()):
            self.rejected += 1
            return web.json_response({"error": "bad signature"}, status=401)
        if (answer := self.scripted()) is not None:
            return answer
        if request.content_type != "application/json" or not isinstance(seen.body, dict):
            return web.json_response({"error": "expected a JSON object"}, status=400)
        self.accepted.append(seen.body)
        self.keys.append(request.headers[IDEMPOTENCY_HEADER])
        return web.Response(status=204)
