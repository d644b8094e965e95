"""Google API plumbing for the review connectors: OAuth2 access tokens and Google's error bodies.

Three ways to authenticate, chosen by which config keys are set:

* a service account key (`service_account_json` text or `service_account_file`): an RS256 JWT
  assertion is exchanged at the token URL (the JWT-bearer grant);
* a user's OAuth client and refresh token (`client_id`, `client_secret`, `refresh_token`):
  the refresh-token grant (Business Profile needs this: it acts for the location's owner);
* a ready `access_token` used as is (it cannot be renewed).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from pydantic import Field, SecretStr, model_validator

from connectors._http import MalformedResponseError, Response, describe, parse_retry_after, request
from connectors._reviews import ReviewConfig
from listener.errors import SourceAuthError, SourceError, TransientSourceError
from listener.redact import redact, register_secret

logger = logging.getLogger(__name__)

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME = timedelta(hours=1)  # Google's maximum for a service-account assertion
_RENEW_BEFORE = timedelta(seconds=60)  # renew a little early: clocks drift and requests take time
# errors[].reason values Google uses for quota and rate limits (403 or 429).
QUOTA_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded", "rateLimitExceededUnreg"}
)


class GoogleReviewConfig(ReviewConfig):
    """Review connector settings plus Google OAuth2 credentials (exactly one way must be set)."""

    service_account_json: SecretStr | None = Field(
        default=None, description="The service account key file's JSON text; put ${GOOGLE_SERVICE_ACCOUNT_JSON} here."
    )
    service_account_file: Path | None = Field(default=None, description="Path of the service account key file.")
    client_id: str | None = Field(default=None, description="OAuth client id (refresh-token mode).")
    client_secret: SecretStr | None = Field(default=None, description="OAuth client secret (refresh-token mode).")
    refresh_token: SecretStr | None = Field(default=None, description="The owner's refresh token (refresh-token mode).")
    access_token: SecretStr | None = Field(default=None, description="A ready access token, used as is.")
    token_url: str | None = Field(
        default=None, description="OAuth token endpoint; default: the key's token_uri, else Google's.",
        examples=[GOOGLE_TOKEN_URL],
    )
    max_pages: int = Field(default=5, ge=1, le=100, description="Pages read per poll when catching up.")
    reply_checks: int = Field(default=20, ge=0, le=1000, description="Open complaints re-checked per poll for a reply.")


    @model_validator(mode="after")
    def _one_way(self) -> GoogleReviewConfig:
        if not self.enabled:  # a disabled table may leave its credentials unset
            return self
        ways = [
            name
            for name, present in (
                ("service_account_json", _has(self.service_account_json)),
                ("service_account_file", self.service_account_file is not None),
                ("refresh_token", _has(self.refresh_token) or bool(self.client_id) or _has(self.client_secret)),
                ("access_token", _has(self.access_token)),
            )
            if present
        ]
        if len(ways) != 1:
            raise ValueError(
                "set exactly one of service_account_json, service_account_file, "
                "client_id + client_secret + refresh_token, or access_token"
                + (f" (found: {', '.join(ways)})" if ways else "")
            )
        if ways == ["refresh_token"] and not (self.client_id and _has(self.client_secret) and _has(self.refresh_token)):
            raise ValueError("refresh-token mode needs client_id, client_secret and refresh_token")
        if ways[0].startswith("service_account"):
            service_account_key(self)  # raises ValueError with a clear message
        return self


def _has(secret: SecretStr | None) -> bool:
    return bool(secret and secret.get_secret_value().strip())


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """What we use of a service account key file."""

    client_email: str
    private_key: str
    private_key_id: str | None
    token_uri: str | None


def service_account_key(config: GoogleReviewConfig) -> ServiceAccountKey:
    """Parse the configured service account key; ValueError (never quoting the key) when unusable."""
    if config.service_account_file is not None:
        try:
            text = config.service_account_file.read_text(encoding="utf-8")
        except OSError as err:
            raise ValueError(f"cannot read service_account_file {str(config.service_account_file)!r}: "
                             f"{err.strerror or err}") from err
    elif config.service_account_json is not None:
        text = config.service_account_json.get_secret_value()
    else:
        text = ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the service account key is not JSON (line {err.lineno})") from None
    if not isinstance(data, Mapping):
        raise ValueError("the service account key must be a JSON object")
    missing = [k for k in ("client_email", "private_key") if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise ValueError(f"the service account key lacks {', '.join(missing)}")
    return ServiceAccountKey(
        client_email=data["client_email"],
        private_key=data["private_key"],
        private_key_id=data.get("private_key_id") if isinstance(data.get("private_key_id"), str) else None,
        token_uri=data.get("token_uri") if isinstance(data.get("token_uri"), str) else None,
    )


class GoogleTokens:
    """Gets, caches and renews an OAuth2 access token for one connector."""

    def __init__(
        self,
        config: GoogleReviewConfig,
        scope: str,
        session: aiohttp.ClientSession,
        now: Callable[[], datetime],
    ) -> None:
        self.scope = scope
        self.session = session
        self.now = now
        self.timeout = config.timeout.total_seconds()
        has_key = _has(config.service_account_json) or config.service_account_file is not None
        self._key = service_account_key(config) if has_key else None
        fixed = config.access_token
        self._fixed = fixed.get_secret_value().strip() if fixed is not None and _has(fixed) else None
        self._refresh = (config.client_id, config.client_secret, config.refresh_token) if config.client_id else None
        self.token_url = config.token_url or (self._key.token_uri if self._key else None) or GOOGLE_TOKEN_URL
        self._token: str | None = self._fixed
        self._expires: datetime | None = None
        self._lock = asyncio.Lock()
        for secret in (self._fixed, self._key.private_key if self._key else None,
                       config.client_secret.get_secret_value() if config.client_secret else None,
                       config.refresh_token.get_secret_value() if config.refresh_token else None):
            register_secret(secret)

    @property
    def renewable(self) -> bool:
        """False for a fixed access token (nothing to renew it with)."""
        return self._fixed is None

    def invalidate(self) -> None:
        """Forget the cached token (the API rejected it), so the next call fetches a fresh one."""
        if self.renewable:
            self._token, self._expires = None, None

    async def token(self) -> str:
        """A valid access token, fetched or renewed when needed."""
        async with self._lock:  # one exchange at a time, even if calls overlap
            now = self.now()
            if self._token is not None and (self._expires is None or now < self._expires - _RENEW_BEFORE):
                return self._token
            form = self._assertion_form(now) if self._key else self._refresh_form()
            data = await _token_request(self.session, self.token_url, form, timeout=self.timeout, now=self.now)
            token, lifetime = data.get("access_token"), data.get("expires_in", 3600)
            if not isinstance(token, str) or not token:
                raise SourceAuthError(f"{describe('POST', self.token_url)}: token response without access_token")
            register_secret(token)
            numeric = isinstance(lifetime, int | float) and not isinstance(lifetime, bool)
            seconds = float(lifetime) if numeric else 3600.0
            self._token, self._expires = token, now + timedelta(seconds=seconds)
            return token

    def _assertion_form(self, now: datetime) -> dict[str, str]:
        assert self._key is not None
        claims = {
            "iss": self._key.client_email,
            "scope": self.scope,
            "aud": self.token_url,
            "iat": int(now.timestamp()),
            "exp": int((now + _ASSERTION_LIFETIME).timestamp()),
        }
        headers = {"kid": self._key.private_key_id} if self._key.private_key_id else None
        try:
            assertion = jwt.encode(claims, self._key.private_key, algorithm="RS256", headers=headers)
        except (ValueError, TypeError, jwt.PyJWTError) as err:
            # Never quote the key; the type of failure is enough to act on.
            raise SourceAuthError(f"the service account private_key cannot sign ({type(err).__name__})") from None
        return {"grant_type": _JWT_BEARER, "assertion": assertion}

    def _refresh_form(self) -> dict[str, str]:
        assert self._refresh is not None
        client_id, secret, refresh = self._refresh
        return {
            "grant_type": "refresh_token",
            "client_id": client_id or "",
            "client_secret": secret.get_secret_value() if secret else "",
            "refresh_token": refresh.get_secret_value() if refresh else "",
        }


# A refused grant is a 4xx other than the retryable ones; `request` hands those back to read the reason.
_REFUSED = frozenset(range(400, 500)) - {408, 429}


async def _token_request(
    session: aiohttp.ClientSession, url: str, form: Mapping[str, str], *, timeout: float,
    now: Callable[[], datetime],
) -> Mapping[str, Any]:
    """POST a token form through `connectors._http.request`; a refused grant is a SourceAuthError with its reason."""
    what = describe("POST", url)
    resp = await request(session, "POST", url, form=form, timeout=timeout, now=now, ok_statuses=_REFUSED)
    if resp.status in _REFUSED:
        # invalid_grant (revoked key or refresh token, clock skew), invalid_client, unauthorized_client.
        try:
            data = json.loads(resp.body) if resp.body.strip() else {}
        except (ValueError, RecursionError):
            data = None
        code = data.get("error") if isinstance(data, Mapping) else None
        why = data.get("error_description") if isinstance(data, Mapping) else None
        reason = f"{code or 'no reason given'}{f': {why}' if isinstance(why, str) and why else ''}"
        raise SourceAuthError(f"{what}: HTTP {resp.status}: token request refused ({redact(reason)[:200]})")
    if not isinstance(resp.data, Mapping):
        raise MalformedResponseError(f"{what}: token response is not a JSON object")
    return resp.data


@dataclass(frozen=True, slots=True)
class GoogleError:
    """The parts of Google's JSON error body we act on."""

    code: int
    status: str
    reasons: frozenset[str]
    message: str

    @property
    def is_quota(self) -> bool:
        """A quota or rate-limit error (429, RESOURCE_EXHAUSTED, or a quota reason on a 403)."""
        return self.code == 429 or self.status == "RESOURCE_EXHAUSTED" or bool(self.reasons & QUOTA_REASONS)


def parse_google_error(status: int, body: bytes) -> GoogleError:
    """Read `{"error": {"code", "status", "message", "errors": [{"reason"}]}}`; tolerant of anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        return GoogleError(status, "", frozenset(), "")
    reasons = frozenset(
        e["reason"] for e in error.get("errors") or () if isinstance(e, Mapping) and isinstance(e.get("reason"), str)
    )
    state, message = error.get("status"), error.get("message")
    return GoogleError(
        code=status,
        status=state if isinstance(state, str) else "",
        reasons=reasons,
        message=message if isinstance(message, str) else "",
    )


async def google_get(
    session: aiohttp.ClientSession,
    url: str,
    tokens: GoogleTokens,
    *,
    params: Mapping[str, Any] | None = None,
    timeout: float,
    now: Callable[[], datetime],
    quota_wait: Callable[[datetime], float],
    ok_statuses: frozenset[int] = frozenset(),
) -> Response:
    """GET a Google API resource with a bearer token; a rejected token is renewed once.

    401 -> SourceAuthError (after one renewal); 403/429 quota errors -> TransientSourceError
    (waiting `Retry-After`, else `quota_wait(now)`); other 403 -> SourceAuthError.
    """
    what = describe("GET", url)
    for attempt in (1, 2):
        headers = {"Authorization": f"Bearer {await tokens.token()}"}
        resp = await request(
            session, "GET", url, params=params, headers=headers, timeout=timeout, now=now,
            ok_statuses=ok_statuses | {401, 403, 429},
        )
        if resp.status in ok_statuses or resp.status not in (401, 403, 429):
            return resp
        error = parse_google_error(resp.status, resp.body)
        detail = f"{what}: HTTP {resp.status} {error.status or ''} {redact(error.message)[:200]}".rstrip()
        if error.is_quota:
            when = now()
            wait = parse_retry_after(resp.headers.get("Retry-After"), when)
            raise TransientSourceError(detail, retry_after=wait if wait is not None else quota_wait(when))
        if resp.status == 401 and attempt == 1 and tokens.renewable:
            logger.info("%s: access token rejected; fetching a new one", what)
            tokens.invalidate()
            continue
        raise SourceAuthError(detail)
    raise SourceError(f"{what}: unreachable")  # pragma: no cover - the loop always returns or raises
