"""Bearer-token check for /api/* and /metrics (constant-time compare); the page and its assets hold no data.

A request carries either the shared `[api] token` or one of the per-user `[api] users` tokens; the
identity it proved (a user's name, or none for the shared token) is kept on the request as `IDENTITY_KEY`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request proved to be: `user` for a per-user token; `via` says how it signed in."""

    user: str | None
    via: str  # "web/user-token", "web/shared-token" or "web/open" (no token configured: loopback only)


IDENTITY_KEY = web.RequestKey("listener_identity", Identity)
OPEN = Identity(None, "web/open")


def _match(given: bytes, shared: bytes | None, users: Mapping[str, bytes]) -> Identity | None:
    found: Identity | None = None
    # Compare against every token (no early exit), so timing does not tell which one nearly matched.
    if shared is not None and hmac.compare_digest(given, shared):
        found = Identity(None, "web/shared-token")
    for name, secret in users.items():
        if hmac.compare_digest(given, secret):
            found = Identity(name, "web/user-token")
    return found


def bearer_middleware(
    token: str | None, users: Mapping[str, str] | None = None
) -> Middleware:
    """Refuse /api/ and /metrics requests without a configured bearer token (shared or per-user), if any is set."""
    shared = token.encode() if token else None
    per_user = {name: secret.encode() for name, secret in (users or {}).items()}
    guarded_at_all = shared is not None or bool(per_user)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        guarded = request.path.startswith("/api/") or request.path == "/metrics"
        if not guarded_at_all or not guarded or request.path == "/api/openapi.json":
            request[IDENTITY_KEY] = OPEN
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        identity = _match(given.strip().encode(), shared, per_user) if scheme.lower() == "bearer" else None
        if identity is None:
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="listener"'},
            )
        request[IDENTITY_KEY] = identity
        return await handler(request)

    return check
