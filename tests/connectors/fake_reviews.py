"""Shared plumbing of the review-site fakes: request log, scripted failures, a Google OAuth token endpoint."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from multidict import CIMultiDict, MultiMapping

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load_fixture(kind: str, name: str) -> Any:
    """A fresh copy of tests/fixtures/<kind>/<name> (JSON)."""
    return json.loads((FIXTURES / kind / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def rsa_key_pem() -> tuple[str, str]:
    """(private PEM, public PEM) of a throwaway RSA key, made once per test run (never committed)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@lru_cache(maxsize=1)
def ec_key_pem() -> tuple[str, str]:
    """(private PEM, public PEM) of a throwaway P-256 key, like an App Store Connect .p8 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass
class Recorded:
    """One request as a fake saw it."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDict[str]


@dataclass
class Scripted:
    """A canned answer for the next request under a path prefix (failures, odd bodies, delays)."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_body: float = 0.0  # after the headers, before the rest of the body


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeBase:
    """Records requests, plays scripted answers first, then asks `authorize` before the real handler."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[tuple[str, Scripted]] = []

    def fail_next(self, path_prefix: str, answer: Scripted) -> None:
        """Answer the next request under `path_prefix` with `answer` instead of real data."""
        self.script.append((path_prefix, answer))

    def authorize(self, request: web.Request) -> web.StreamResponse | None:
        """An error response for a request without valid credentials, else None (override)."""
        return None

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add the API's own headers (rate limits) to a real answer (override)."""

    def served(self, prefix: str) -> list[Recorded]:
        """Requests seen so far under a path prefix."""
        return [r for r in self.requests if r.path.startswith(prefix)]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record, then scripted answer, then credentials check, then the handler."""
        self.requests.append(Recorded(request.method, request.path, request.query, CIMultiDict(request.headers)))
        for index, (prefix, answer) in enumerate(self.script):
            if request.path.startswith(prefix):
                del self.script[index]
                return await _scripted(request, answer)
        refused = self.authorize(request)
        if refused is not None:
            return refused
        response = await handler(request)
        self.decorate(request, response)
        return response


async def _scripted(request: web.Request, answer: Scripted) -> web.StreamResponse:
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    response.content_type = "application/json"
    body = answer.body.encode()
    response.content_length = len(body)
    await response.prepare(request)
    if answer.delay_body:
        await response.write(body[:1])
        await asyncio.sleep(answer.delay_body)
        body = body[1:]
    await response.write(body)
    await response.write_eof()
    return response


def page_of(items: list[dict[str, Any]], offset: int, size: int) -> list[dict[str, Any]]:
    """A deep copy of one page of items (what a server would serialise)."""
    return copy.deepcopy(items[offset : offset + size])


class GoogleTokenEndpoint:
    """Google's OAuth2 token endpoint: JWT-bearer (service account) and refresh-token grants.

    It checks the service account assertion the way Google does: RS256 signature by the key,
    `iss` = client email, `aud` = this token URL, the requested scope, and a one-hour lifetime.
    """

    def __init__(self, *, client_email: str, scope: str, public_pem: str,
                 client_id: str = "", client_secret: str = "", refresh_token: str = "") -> None:
        self.client_email = client_email
        self.scope = scope
        self.public_pem = public_pem
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.issued: list[str] = []
        self.assertions: list[dict[str, Any]] = []
        self.expires_in = 3600
        self.url = ""  # set by the test once the server runs (it is the expected `aud`)

    def valid(self, authorization: str | None) -> bool:
        """Whether a request carries one of the tokens issued here."""
        return bool(authorization) and authorization in {f"Bearer {t}" for t in self.issued}

    def revoke_all(self) -> None:
        """Make every issued token invalid (as if they expired early)."""
        self.issued = [f"revoked-{t}" for t in self.issued]

    async def handle(self, request: web.Request) -> web.Response:
        """POST /token."""
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(str(form.get("assertion", "")), self.public_pem, algorithms=["RS256"],
                                    audience=self.url or None,
                                    # The connector runs on a fake clock: check lifetime, not the wall clock.
                                    options={"verify_aud": bool(self.url), "verify_exp": False, "verify_iat": False})
            except jwt.PyJWTError as err:
                return web.json_response({"error": "invalid_grant", "error_description": str(err)}, status=400)
            self.assertions.append(claims)
            if claims.get("iss") != self.client_email or claims.get("scope") != self.scope:
                return web.json_response({"error": "invalid_grant", "error_description": "bad iss/scope"}, status=400)
            if claims["exp"] - claims["iat"] > 3600:
                return web.json_response({"error": "invalid_grant", "error_description": "too long"}, status=400)
        elif grant == "refresh_token":
            if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
                return web.json_response({"error": "invalid_client"}, status=401)
            if form.get("refresh_token") != self.refresh_token:
                return web.json_response({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = f"ya29.fake-{len(self.issued) + 1}"
        self.issued.append(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})


def google_error(code: int, status: str, message: str, reason: str | None = None) -> str:
    """A Google API error body (`{"error": {code, message, status, errors[]}}`)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    return json.dumps({"error": error})
